"""Settings: defaults, environment parsing, one clear error naming the variable."""

from pathlib import Path

import pytest

from config import ENV_VARS, PROJECT_ROOT, Settings, SettingsError


def test_settings001_defaults():
    s = Settings.from_env({})
    assert (s.port, s.waitress_threads, s.waitress_connection_limit) == (8051, 8, 2000)
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.database_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'o2o.sqlite3'}"
    assert s.is_sqlite


def test_settings006_workers_default_to_the_cores(monkeypatch):
    for cores, expected in ((None, 1), (1, 1), (2, 2), (16, 4)):
        monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
        assert Settings.from_env({}).workers == expected
    assert Settings.from_env({"O2O_WORKERS": "3"}).workers == 3


def test_settings002_environment_overrides_and_argument_wins():
    env = {
        "O2O_PORT": "9000",
        "O2O_DATA_DIR": "/tmp/o2o-x",
        "O2O_FEE_CHANNELS": "美团闪购, 饿了么 ,",
        "O2O_LOG_LEVEL": "debug",
    }
    s = Settings.from_env(env, waitress_threads=3)
    assert s.port == 9000 and s.waitress_threads == 3 and s.log_level == "DEBUG"
    assert s.fee_channels == ("美团闪购", "饿了么")
    assert s.data_dir == Path("/tmp/o2o-x") and s.database_url.endswith("/tmp/o2o-x/o2o.sqlite3")


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("O2O_PORT", "80a"),
        ("O2O_PORT", "70000"),
        ("O2O_WAITRESS_THREADS", "0"),
        ("O2O_WORKERS", "0"),
        ("O2O_DATABASE_URL", "mysql://x"),
        ("O2O_REDIS_URL", "http://x"),
        ("O2O_LOG_LEVEL", "LOUD"),
        ("O2O_DB_TIMEOUT_S", "0"),
        ("O2O_DB_TIMEOUT_S", "3s"),
        ("O2O_DB_LOAD_TIMEOUT_S", "-1"),
        ("O2O_MAX_XLSX_ROWS", "many"),
        ("O2O_MAX_XLSX_COLUMNS", "20000"),
        ("O2O_MAX_XLSX_CELLS", "0"),
        ("O2O_MAX_XLSX_UNCOMPRESSED_BYTES", "2G"),
        # rule thresholds (config/rules.py)
        ("O2O_RULE_URGENT_MIN_AMOUNT", "ten"),
        ("O2O_RULE_URGENT_MIN_AMOUNT", "nan"),
        ("O2O_RULE_URGENT_MIN_AMOUNT", "-1"),
        ("O2O_RULE_TRAFFIC_DROP_THRESHOLD", "1.5"),
        ("O2O_RULE_SKU_RULES_MAX_STORES", "5.5"),
        ("O2O_RULE_STOCKOUT_MAX_ZERO_DAYS", "1"),  # below the minimum gap (2)
        ("O2O_RULE_SLOW_BUCKET_DAYS", "15,7"),
        ("O2O_RULE_SLOW_BUCKET_DAYS", "2,7"),  # not after the 3 idle days
        ("O2O_RULE_ABC_SHARES", "0.8,1.0"),
        ("O2O_RULE_PRICE_BAND_EDGES", ","),
        ("O2O_RULE_HEALTH_WEIGHT_MARGIN", "0.5"),  # the weights no longer sum to 1
        ("O2O_RULE_CHANNEL_MARGIN_GOOD", "0"),  # equal to its bad value: no scale
        ("O2O_RULE_CHANNEL_RATING_CUTOFFS", "50,75"),
    ],
)
def test_settings003_bad_value_names_the_variable(var, value):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({var: value})
    message = str(info.value)
    assert message.startswith(f"{var}=") and "\n" not in message


def test_settings004_frozen_and_every_variable_documented():
    s = Settings.from_env({})
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]
    documented = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    missing = [v for v in ENV_VARS if v not in documented]
    assert missing == []


def test_settings005_every_export_column_documented():
    from db.export_format import COLUMNS

    glossary = (PROJECT_ROOT / "docs" / "METRICS.md").read_text(encoding="utf-8")
    missing = [c.header for c in COLUMNS if f"| {c.header} | {c.name} |" not in glossary]
    assert missing == []
