from aiops_detector.detection.limited_gauges import limited_gauges
from aiops_detector.detection.metric_steps import MetricSeries


def series(series_id: int, name: str, instance: str = "inventory-1", **attributes: str) -> MetricSeries:
    keyed = {key.replace("_", "."): value for key, value in attributes.items()}
    return MetricSeries(series_id, "inventory", instance, name, "sum", "cumulative", keyed)


POOL = "db_client_connection_pool_name"
STATE = "db_client_connection_state"


def test_a_pool_s_used_connections_pair_with_its_size_and_memory_with_its_limit() -> None:
    found = limited_gauges(
        [
            series(1, "db.client.connection.count", **{POOL: "stock-db", STATE: "used"}),
            series(2, "db.client.connection.count", **{POOL: "stock-db", STATE: "idle"}),
            series(3, "db.client.connection.max", **{POOL: "stock-db"}),
            series(4, "process.memory.usage"),
            series(5, "process.memory.limit"),
            series(6, "process.memory.limit", instance="inventory-2"),
            series(7, "http.server.active_requests"),
        ]
    )
    assert sorted((p.usage.series_id, p.limit.series_id) for p in found) == [(1, 3), (4, 5)]
    pool = next(p for p in found if p.usage.series_id == 1)
    assert pool.operation == "db.client.connection.count pool.name=stock-db on inventory-1"


def test_a_limit_of_another_pool_or_instance_is_not_this_one_s() -> None:
    found = limited_gauges(
        [
            series(1, "db.client.connection.count", **{POOL: "a", STATE: "used"}),
            series(2, "db.client.connection.max", **{POOL: "b"}),
            series(3, "process.memory.usage", instance="x"),
            series(4, "process.memory.limit", instance="y"),
        ]
    )
    assert found == []
