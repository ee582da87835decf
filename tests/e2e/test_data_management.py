"""数据管理 in Debian chromium, offline, against its own demo site (these tests write): a file with
one bad row is refused with its row and column named, the fixed file passes its check and imports
with visible progress (also after a reload), the new store shows on the dashboard, 撤销 in the
history removes it again, 移除演示数据 removes the demo stores; refused files say why in the page.
Screenshots go to the test's tmp dir."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest

from components import ids
from db.demo_data import DemoSpec
from db.export_format import HEADERS
from tests.e2e.offline import open_offline, serve_demo
from tests.factories import order, sheet, write_csv

pytestmark = pytest.mark.e2e

SPEC = DemoSpec(stores=2, days=14, seed=5)
NEW_STORE, NEW_CITY = "E2E-光谷新开店", "测试市"
LINES = 80_000  # about 5 s of import on SQLite here: long enough to watch and to reload during it
BAD_LINE = 1234  # 0-based line of the bad file whose 实收价格 is not a number
DETAIL = f"#{ids.DATA_DETAIL_BODY}"
JOBS = f"#{ids.DATA_JOBS}"

# Every 100 ms, what the job list shows of each working job: status, step text, bar value
WATCH_PROGRESS = """
window.__o2oSeen = [];
setInterval(function () {
  document.querySelectorAll("#data-jobs tr[data-job]").forEach(function (row) {
    var step = row.querySelector(".data-job-step");
    var bar = row.querySelector(".data-job-progress .progress-bar");
    var seen = [row.getAttribute("data-job"), row.getAttribute("data-status"), step ? step.textContent : "",
                bar ? bar.getAttribute("aria-valuenow") : null].join("|");
    if (window.__o2oSeen[window.__o2oSeen.length - 1] !== seen) window.__o2oSeen.push(seen);
  });
}, 100);
"""


# A drop of one file on the drop zone (what a file manager's drag and drop delivers)
DROP = """({name, bytes}) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([new Uint8Array(bytes)], name));
  const zone = document.getElementById("data-drop");
  zone.dispatchEvent(new DragEvent("dragover", {bubbles: true, cancelable: true, dataTransfer: transfer}));
  zone.dispatchEvent(new DragEvent("drop", {bubbles: true, cancelable: true, dataTransfer: transfer}));
}"""


def _new_store_file(last_day: str) -> pd.DataFrame:
    """LINES one-line orders of a store the demo does not have, on the demo's last day."""
    frame = sheet(order("T", f"{last_day} 10:00:00", [{}], store_name=NEW_STORE, store_code="E2E1", city=NEW_CITY))
    frame = frame.loc[frame.index.repeat(LINES)].reset_index(drop=True)
    frame["订单ID"] = [f"E2E{i:07d}" for i in range(LINES)]
    frame["下单时间"] = [f"{last_day} {8 + i % 12:02d}:{i % 60:02d}:{i % 59:02d}" for i in range(LINES)]
    return frame


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with serve_demo(SPEC, tmp_path_factory.mktemp("data-site")) as served:
        yield served


def _upload(page, *paths) -> None:
    with page.expect_file_chooser() as chooser:
        page.locator("#data-choose").click()
    chooser.value.set_files([str(p) for p in paths])


def _store_options(page, base: str, typed: str) -> list[str]:
    """The 经营总览 store filter's options matching ``typed`` (a fresh page load)."""
    page.goto(base + "/overview", wait_until="networkidle")
    box = page.locator("#overview-store-filter")
    if not box.count():
        return []
    box.click()
    page.keyboard.type(typed)
    page.wait_for_timeout(500)
    options = page.locator(".dash-dropdown-option, [role=option]").all_inner_texts()
    page.keyboard.press("Escape")
    return [o.strip() for o in options if typed in o]


def test_e2e_data001_bad_row_fixed_import_progress_dashboard_undo(site, browser, tmp_path):
    bad = _new_store_file(site.last_day).astype(object)
    bad.loc[BAD_LINE, "实收价格"] = "八块五"
    bad_path = write_csv(bad, tmp_path / "门店订单-有错.csv")
    good = _new_store_file(site.last_day)
    good_path = write_csv(good, tmp_path / "门店订单.csv")
    shots = tmp_path / "screenshots"
    shots.mkdir()

    context, page, errors, blocked = open_offline(browser, accept_downloads=True)
    context.add_init_script(WATCH_PROGRESS)
    assert NEW_STORE not in " ".join(_store_options(page, site.base, NEW_STORE))
    page.goto(site.base + "/data", wait_until="networkidle")
    assert page.get_by_role("link", name="数据管理").count() == 1  # in the navbar

    # 1. the bad file: refused by its check, the report names the file row and the column
    _upload(page, bad_path)
    page.locator(f"{DETAIL} .data-report[data-errors='1']").wait_for(timeout=60000)
    group = page.locator(f"{DETAIL} .data-report-group")
    assert group.count() == 1
    assert group.locator(".data-report-column").inner_text() == "列「实收价格」"
    assert f"第 {BAD_LINE + 2} 行" in group.inner_text()  # header is row 1: line i is row i + 2
    assert "八块五" in group.inner_text()
    assert page.locator(f"{DETAIL} button", has_text="导入").count() == 0
    with page.expect_download() as download:  # the whole list, as CSV
        page.locator(f"{DETAIL} a", has_text="下载完整错误列表").click()
    listed = download.value.path().read_text(encoding="utf-8-sig")
    assert "实收价格" in listed and str(BAD_LINE + 2) in listed and "八块五" in listed
    page.screenshot(path=str(shots / "1-bad-file-report.png"), full_page=True)

    # 2. the fixed file passes its check; its mapping preview shows how each field was found
    _upload(page, good_path)
    page.locator(f"{DETAIL} .data-report[data-errors='0']").wait_for(timeout=60000)
    assert good_path.name in page.locator(DETAIL).inner_text()
    assert page.locator(f"{DETAIL} tr[data-field='store_name'][data-how='exact']").count() == 1
    page.screenshot(path=str(shots / "2-fixed-file-checked.png"), full_page=True)

    # 3. 导入: progress in the job list, and again after a reload while the job runs
    page.locator(f"{DETAIL} button", has_text="导入").click()
    page.locator(f"{JOBS} tr[data-status='running'] .data-job-progress").wait_for(timeout=60000)
    before_reload = page.evaluate("window.__o2oSeen")
    page.reload(wait_until="domcontentloaded")
    page.locator(f"{JOBS} tr[data-status='running'] .data-job-progress").wait_for(timeout=30000)
    page.screenshot(path=str(shots / "3-import-running-after-reload.png"), full_page=True)
    job = page.locator(f"{JOBS} tr[data-status='running']").get_attribute("data-job")
    page.locator(f"{JOBS} tr[data-job='{job}'][data-status='succeeded']").wait_for(timeout=120000)
    seen = [s for s in before_reload + page.evaluate("window.__o2oSeen") if s.startswith(f"{job}|running|")]
    steps = {s.split("|")[2].split(" · ")[0] for s in seen}
    assert steps & {"导入：写入", "导入：校验", "导入：读取"}, seen  # the worker's steps, as they came
    assert any(f"/ {LINES:,} 行" in s for s in seen), seen  # lines done of the file's total
    page.screenshot(path=str(shots / "4-imported.png"), full_page=True)

    # 4. the dashboard lists the new store
    assert _store_options(page, site.base, NEW_STORE) == [f"{NEW_CITY} · {NEW_STORE}"]

    # 5. 撤销 the batch in 导入历史 (confirm) → the store is gone
    page.goto(site.base + "/data", wait_until="networkidle")
    row = page.locator(".o2o-grid .ag-row", has_text=good_path.name).first
    row.wait_for(timeout=30000)
    assert "成功" in row.inner_text() and f"{LINES:,}" in row.inner_text()
    batch = row.get_attribute("row-id")
    page.locator(f".o2o-grid .ag-pinned-right-cols-container [row-id='{batch}'] [col-id='action']").click()
    page.locator("#data-confirm-body").wait_for(timeout=10000)
    assert good_path.name in page.locator("#data-confirm-body").inner_text()
    page.screenshot(path=str(shots / "5-undo-confirm.png"), full_page=True)
    page.locator("#data-confirm-ok").click()
    result = page.locator("#data-history-message .data-undo-result")
    result.wait_for(timeout=60000)
    orders = good["订单ID"].nunique()  # independent of the importer: the file's own orders
    assert f"删除订单 {orders} 单" in result.inner_text() and "删除门店 1 家" in result.inner_text()
    page.locator(".o2o-grid .ag-row", has_text=good_path.name).filter(has_text="已撤销").wait_for(timeout=30000)
    page.screenshot(path=str(shots / "6-undone.png"), full_page=True)
    assert _store_options(page, site.base, NEW_STORE) == []

    # 6. 移除演示数据 (confirm) → no store left at all
    page.goto(site.base + "/data", wait_until="networkidle")
    page.locator("#data-remove-demo:not(.d-none)").click()
    page.locator("#data-confirm-ok").click()
    result.wait_for(timeout=60000)
    assert f"门店 {len(site.stores)} 家" in result.inner_text()
    page.locator("#data-remove-demo.d-none").wait_for(state="attached", timeout=30000)
    page.goto(site.base + "/overview", wait_until="networkidle")
    assert "还没有任何订单数据" in page.locator("body").inner_text()
    page.get_by_role("link", name="前往数据管理 →").click()  # the empty dashboard points the way
    page.wait_for_url(site.base + "/data", timeout=10000)

    assert blocked == [] and errors == []
    context.close()


def test_e2e_data003_file_over_the_limit_is_refused_before_sending(site, browser, tmp_path):
    """The page knows the server's limit: a larger file is not sent at all (a server refusing a
    body mid-way closes the connection, which the browser reports as a network error)."""
    path = write_csv(_new_store_file(site.last_day).head(50), tmp_path / "大文件.csv")
    context, page, errors, blocked = open_offline(browser)
    page.goto(site.base + "/data", wait_until="networkidle")
    uploads = []
    page.on("request", lambda request: uploads.append(request.url) if "/data/upload" in request.url else None)
    limit = path.stat().st_size - 1
    page.evaluate(f"document.getElementById('data-drop').setAttribute('data-limit', '{limit}')")
    _upload(page, path)
    item = page.locator("#data-upload-list .data-upload-item[data-upload-state='refused']")
    item.wait_for(timeout=10000)
    assert f"{path.name}: 文件超过上传上限" in item.inner_text() and "未上传" in item.inner_text()
    page.wait_for_timeout(500)
    assert uploads == [] and blocked == [] and errors == []
    context.close()


def test_e2e_data004_template_downloads_with_every_header(site, browser):
    context, page, errors, blocked = open_offline(browser, accept_downloads=True)
    page.goto(site.base + "/data", wait_until="networkidle")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载模板").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    book = io.BytesIO(download.value.path().read_bytes())  # the saved download has no extension
    sheet = openpyxl.load_workbook(book, read_only=True).worksheets[0]
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert header == list(HEADERS)  # db.export_format, the importer's own columns
    assert blocked == [] and errors == []
    context.close()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("订单说明.txt", "订单ID,门店名称\n1,店\n".encode(), "只接受 .csv 或 .xlsx 文件"),
        ("伪装.csv", bytes(range(256)) * 8, "内容不是 CSV 文本"),
        ("伪装.xlsx", b"not a zip file at all", "内容不是 XLSX 文件"),
    ],
)
def test_e2e_data002_refused_file_says_why_in_the_page(site, browser, tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    context, page, errors, blocked = open_offline(browser)
    page.goto(site.base + "/data", wait_until="networkidle")
    if path.suffix == ".txt":  # dropped on the drop zone, as from the file manager
        page.evaluate(DROP, {"name": name, "bytes": list(content)})
    else:
        _upload(page, path)
    item = page.locator("#data-upload-list .data-upload-item[data-upload-state='refused']")
    item.wait_for(timeout=30000)
    text = item.locator(".data-upload-status").inner_text()
    assert reason in text and name in text, text
    page.locator("#data-upload-list").screenshot(path=str(tmp_path / f"refused-{path.suffix[1:]}.png"))
    assert page.locator(f"{JOBS} tr[data-job]", has_text=name).count() == 0  # no job for a refused file
    assert blocked == []
    assert [e for e in errors if "Failed to load resource" not in e] == []  # the 4xx answer itself
    context.close()
