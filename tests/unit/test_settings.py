import pytest
from pydantic import ValidationError

from aiops_core.settings import CoreSettings, QueueType
from aiops_core.urls import redact
from aiops_detector.settings import DetectorSettings
from aiops_incidents.settings import IncidentSettings
from aiops_ingest.settings import IngestSettings


def test_defaults_point_at_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AIOPS_DATABASE_URL", "AIOPS_BROKER_URL", "AIOPS_REDIS_URL", "AIOPS_QUEUE_TYPE"):
        monkeypatch.delenv(name, raising=False)
    settings = CoreSettings()
    assert settings.database_url.startswith("postgresql://")
    assert settings.broker_url.startswith("amqp://")
    assert settings.redis_url.startswith("redis://")
    assert settings.queue_type is QueueType.QUORUM


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_DATABASE_URL", "postgres://u:p@db:5432/x")
    monkeypatch.setenv("AIOPS_QUEUE_TYPE", "classic")
    monkeypatch.setenv("AIOPS_BROKER_PREFETCH", "32")
    settings = CoreSettings()
    assert settings.database_url == "postgres://u:p@db:5432/x"
    assert settings.queue_type is QueueType.CLASSIC
    assert settings.broker_prefetch == 32


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AIOPS_DATABASE_URL", "mysql://db/x", "must start with one of postgresql://, postgres://"),
        ("AIOPS_DATABASE_URL", "postgresql:///x", "must name a host"),
        ("AIOPS_BROKER_URL", "http://rabbit", "must start with one of amqp://, amqps://"),
        ("AIOPS_REDIS_URL", "127.0.0.1:6379", "must start with one of redis://"),
        ("AIOPS_QUEUE_TYPE", "stream", "'quorum' or 'classic'"),
        ("AIOPS_BROKER_PREFETCH", "0", "greater than or equal to 1"),
    ],
)
def test_invalid_values_are_refused_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as info:
        CoreSettings()
    assert message in str(info.value)
    assert variable.removeprefix("AIOPS_").lower() in str(info.value)


def test_unix_socket_database_url_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_DATABASE_URL", "postgresql://postgres:@/postgres?host=/tmp/pg")
    assert CoreSettings().database_url.endswith("host=/tmp/pg")


def test_ingest_tokens_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_INGEST_TOKENS", " alpha, beta ,,")
    assert IngestSettings().ingest_tokens == ["alpha", "beta"]


def test_no_ingest_tokens_means_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIOPS_INGEST_TOKENS", raising=False)
    assert IngestSettings().ingest_tokens == []


def test_redact_hides_the_password() -> None:
    assert redact("amqp://guest:secret@rabbit:5672/") == "amqp://guest:***@rabbit:5672/"
    assert redact("redis://cache:6379/0") == "redis://cache:6379/0"


def test_every_comma_separated_setting_is_split_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_API_TOKENS", " oncall:s3cret:write ,, grafana:t0ken:read ")
    monkeypatch.setenv("AIOPS_WEBHOOK_URLS", "https://hooks.example.com/a,")
    settings = IncidentSettings()
    assert settings.api_tokens == ["oncall:s3cret:write", "grafana:t0ken:read"]
    assert settings.webhook_urls == ["https://hooks.example.com/a"]
    # Not read as JSON first: a value that happens to be a JSON list is still one entry per comma.
    monkeypatch.setenv("AIOPS_INGEST_TOKENS", '["a", "b"]')
    assert IngestSettings().ingest_tokens == ['["a"', '"b"]']


def test_a_detector_that_would_run_nothing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_SPAN_WRITER_ENABLED", "false")
    assert DetectorSettings().detection_enabled  # detection alone is a detector
    monkeypatch.setenv("AIOPS_DETECTION_ENABLED", "false")
    with pytest.raises(ValidationError, match="span_writer_enabled and detection_enabled are both false"):
        DetectorSettings()
