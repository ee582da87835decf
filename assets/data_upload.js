/* 数据管理 (pages/data_management.py): files dropped on the drop zone or picked with 选择文件 go to
 * the server one request each, the file itself as the body (XMLHttpRequest streams it from disk;
 * nothing passes through a Dash callback, nothing is read into page memory). Each file gets a row
 * with a progress bar from upload.onprogress and, when the server answers, either 已上传 or the
 * server's own Chinese message (too large, not CSV / XLSX …). When a file is in, the script clicks
 * the page's hidden button so the job list refreshes, and selects the new job to show its check.
 * One set of listeners on the document serves the page however often Dash renders it. */
(function () {
  var DROP = "data-drop";
  var CHOOSE = "data-choose";
  var LIST = "data-upload-list";
  var UPLOADED = "data-uploaded";
  var SELECTED = "data-selected";
  var ACCEPT = ".csv,.xlsx";

  function sizeText(bytes) {
    if (typeof bytes !== "number" || !isFinite(bytes)) return "—";
    if (bytes < 1024) return bytes + " B";
    var units = ["KB", "MB", "GB"];
    var value = bytes;
    for (var i = 0; i < units.length; i++) {
      value /= 1024;
      if (value < 1024 || i === units.length - 1) return value.toFixed(value < 10 ? 1 : 0) + " " + units[i];
    }
    return bytes + " B";
  }

  // the grids' size column (components/grid.py calls formatters by name)
  var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});
  dagfuncs.o2oBytes = sizeText;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // names come from the user's disk: text only
    return node;
  }

  function row(file) {
    var item = el("div", "data-upload-item border rounded p-2 mb-2 bg-white");
    var head = el("div", "d-flex justify-content-between small");
    head.appendChild(el("span", "data-upload-name fw-semibold text-break", file.name));
    head.appendChild(el("span", "text-muted ms-2 text-nowrap", sizeText(file.size)));
    var progress = el("div", "progress mt-1");
    progress.style.height = "0.9rem";
    var bar = el("div", "progress-bar data-upload-bar", "0%");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", "0");
    bar.style.width = "0%";
    progress.appendChild(bar);
    var status = el("div", "data-upload-status small mt-1 text-muted", "正在上传…");
    item.appendChild(head);
    item.appendChild(progress);
    item.appendChild(status);
    return { item: item, bar: bar, status: status };
  }

  function show(parts, percent) {
    var value = Math.max(0, Math.min(100, Math.round(percent)));
    parts.bar.style.width = value + "%";
    parts.bar.textContent = value + "%";
    parts.bar.setAttribute("aria-valuenow", String(value));
  }

  function finish(parts, ok, text) {
    parts.bar.classList.add(ok ? "bg-success" : "bg-danger");
    if (!ok) {
      parts.bar.style.width = "100%"; // a refused file: the whole bar red, not the bytes sent
      parts.bar.textContent = "未接受";
    }
    parts.status.className = "data-upload-status small mt-1 " + (ok ? "text-success" : "text-danger fw-semibold");
    parts.status.textContent = text;
    parts.item.setAttribute("data-upload-state", ok ? "done" : "refused");
  }

  function answer(xhr) {
    try {
      return JSON.parse(xhr.responseText || "{}");
    } catch (e) {
      return {};
    }
  }

  function refused(xhr, body) {
    if (body && typeof body.error === "string" && body.error) return body.error;
    if (xhr.status === 413) return "文件过大，超过服务器允许的上传大小，未上传";
    if (xhr.status === 0) return "上传中断：无法连接服务器，请检查网络后重试";
    return "服务器未接受此文件（HTTP " + xhr.status + "），请稍后重试";
  }

  function tellDash(job) {
    if (job && job.id !== undefined && window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(SELECTED, { data: job.id });
    }
    var button = document.getElementById(UPLOADED);
    if (button) button.click();
  }

  function send(file, url, limit, list) {
    var parts = row(file);
    list.insertBefore(parts.item, list.firstChild);
    if (limit && file.size > limit) {
      // refused before sending: a server that refuses a large body mid-way closes the connection,
      // which the browser reports as a network error instead of the server's answer
      finish(parts, false, file.name + ": 文件超过上传上限 " + sizeText(limit) + "，未上传");
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
    xhr.setRequestHeader("X-Requested-With", "o2o-upload");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = function (event) {
      if (event.lengthComputable && event.total > 0) show(parts, (event.loaded / event.total) * 100);
    };
    xhr.onload = function () {
      var body = answer(xhr);
      if (xhr.status >= 200 && xhr.status < 300 && body.job) {
        show(parts, 100);
        finish(parts, true, "已上传，正在校验…");
        tellDash(body.job);
      } else {
        finish(parts, false, refused(xhr, body));
        tellDash(null);
      }
    };
    xhr.onerror = function () {
      finish(parts, false, refused(xhr, null));
    };
    xhr.onabort = xhr.onerror;
    xhr.send(file);
  }

  function sendAll(files) {
    var zone = document.getElementById(DROP);
    var list = document.getElementById(LIST);
    if (!zone || !list || !files) return;
    var url = zone.getAttribute("data-url") || "/data/upload";
    var limit = Number(zone.getAttribute("data-limit")) || 0;
    for (var i = 0; i < files.length; i++) send(files[i], url, limit, list);
  }

  function inZone(event) {
    return event.target && event.target.closest ? event.target.closest("#" + DROP) : null;
  }

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("#" + CHOOSE) : null;
    if (!button) return;
    event.preventDefault();
    var input = document.createElement("input");
    input.type = "file";
    input.multiple = true;
    input.accept = ACCEPT;
    input.style.display = "none";
    input.addEventListener("change", function () {
      sendAll(input.files);
      input.remove();
    });
    document.body.appendChild(input);
    input.click();
  });

  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var zone = inZone(event);
      if (!zone) return;
      event.preventDefault();
      zone.classList.add("data-drop-active");
    });
  });
  document.addEventListener("dragleave", function (event) {
    var zone = inZone(event);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("data-drop-active");
  });
  document.addEventListener("drop", function (event) {
    var zone = inZone(event);
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("data-drop-active");
    sendAll(event.dataTransfer ? event.dataTransfer.files : null);
  });
})();
