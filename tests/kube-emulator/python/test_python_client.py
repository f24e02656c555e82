"""The official Python `kubernetes` client (36.0.3, the version Airflow's Kubernetes provider requires) against
the kube emulator, unchanged.

Usage: test_python_client.py KUBECONFIG NAMESPACE BAD_TOKEN_KUBECONFIG

Driven by the Rust test `clients::python_client` (tests/kube-emulator/src/clients.rs), which starts the
emulator, seeds it and writes both kubeconfigs (the second one with a token the server rejects). When this script needs the emulator side to act (write
secrets during a watch, inject a fault) it prints `NEED <action>` on stdout and waits for a `DONE`
line on stdin. Each passed check prints `OK <check>`; any failure raises, so the exit status is
non-zero. An alarm bounds the whole run.
"""

import base64
import json
import signal
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

CONNECTION = "airflow.apache.org/connection-id"
POSTGRES_JSON = (
    '{"conn_type": "postgres", "host": "db.example.com", "login": "user", '
    '"password": "pass", "port": 5432, "schema": "mydb"}'
)


def need(action):
    """Asks the Rust side to do something and waits until it is done."""
    print(f"NEED {action}", flush=True)
    line = sys.stdin.readline().strip()
    if line != "DONE":
        raise AssertionError(f"expected DONE for {action}, got {line!r}")


def ok(check):
    print(f"OK {check}", flush=True)


def expect_api_error(call, status, reason):
    try:
        call()
    except ApiException as e:
        assert e.status == status, (e.status, e.reason, e.body)
        body = json.loads(e.body)
        assert body["kind"] == "Status" and body["code"] == status, body
        assert body["reason"] == reason, body
        return body
    raise AssertionError(f"expected ApiException {status}")


def main():
    signal.alarm(60)
    kubeconfig, namespace, bad_kubeconfig = sys.argv[1], sys.argv[2], sys.argv[3]
    api_client = config.new_client_from_config(config_file=kubeconfig)
    v1 = client.CoreV1Api(api_client)

    # The Airflow backend's calls, exactly, for connection my_postgres_db and team analytics: the team-scoped
    # list first, then the global one (team-labelled secrets excluded), both with resource_version="0". The
    # Rust side compares these requests with the ones the Kubernetes provider builds.
    team = v1.list_namespaced_secret(
        namespace,
        label_selector=f"{CONNECTION}=my_postgres_db,airflow.apache.org/team=analytics",
        resource_version="0",
        _request_timeout=10,
    )
    assert team.items == [], team.items
    secrets = v1.list_namespaced_secret(
        namespace,
        label_selector=f"{CONNECTION}=my_postgres_db,!airflow.apache.org/team",
        resource_version="0",
        _request_timeout=10,
    )
    assert [s.metadata.name for s in secrets.items] == ["my-postgres-secret"], secrets.items
    value = base64.b64decode(secrets.items[0].data["value"]).decode()
    assert value == POSTGRES_JSON, value
    assert json.loads(value)["port"] == 5432
    assert secrets.metadata.resource_version.isdigit()
    empty = v1.list_namespaced_secret(namespace, label_selector=f"{CONNECTION}=nope", resource_version="0")
    assert empty.items == [], empty
    set_based = v1.list_namespaced_secret(namespace, label_selector=f"{CONNECTION} in (my_postgres_db, other)")
    assert len(set_based.items) == 1
    ok("list")

    # A create, as Airflow's docs would have it made by a client: the Python client sends JSON.
    created = v1.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="py-created", labels={"airflow.apache.org/variable-key": "py_created"}),
            string_data={"value": "smtp://py:pw@smtp.example.com:587"},
        ),
    )
    assert created.metadata.name == "py-created", created.metadata
    ok("create")

    # Watch: synthetic ADDED, live ADDED / MODIFIED / DELETED (leaving the selector), and the
    # bookmark the server sends before closing at timeout_seconds.
    w = watch.Watch()
    events = []
    for event in w.stream(
        v1.list_namespaced_secret,
        namespace,
        label_selector=CONNECTION,
        resource_version="0",
        timeout_seconds=2,
        allow_watch_bookmarks=True,
    ):
        if event["type"] == "BOOKMARK":
            # Not deserialized by the client: the raw dict, with only the resourceVersion.
            events.append(("BOOKMARK", event["object"]["metadata"]["resourceVersion"], None))
        else:
            obj = event["object"]
            events.append((event["type"], obj.metadata.name, (obj.data or {}).get("value")))
        if len(events) == 1:
            need("watch-writes")
    assert events[0] == ("ADDED", "my-postgres-secret", base64.b64encode(POSTGRES_JSON.encode()).decode()), events
    assert events[1:4] == [
        ("ADDED", "py-watched", "MQ=="),
        ("MODIFIED", "py-watched", "Mg=="),
        ("DELETED", "py-watched", "Mg=="),
    ], events
    assert events[4][0] == "BOOKMARK" and len(events) == 5, events
    assert w.resource_version == events[4][1], (w.resource_version, events)
    ok("watch")

    # A watch from a compacted revision: 410 Expired (no retry when timeout_seconds is set).
    rv = v1.list_namespaced_secret(namespace).metadata.resource_version
    need("write-and-compact")
    try:
        for _ in watch.Watch().stream(v1.list_namespaced_secret, namespace, resource_version=rv, timeout_seconds=5):
            raise AssertionError("no event expected before the 410")
        raise AssertionError("expected a 410")
    except ApiException as e:
        assert e.status == 410, (e.status, e.reason)
        assert e.reason.startswith(f"Expired: too old resource version: {rv} ("), e.reason
    ok("watch-410")

    # Error shapes, as the client surfaces them.
    bad = config.new_client_from_config(config_file=bad_kubeconfig)
    body = expect_api_error(lambda: client.CoreV1Api(bad).list_namespaced_secret(namespace), 401, "Unauthorized")
    assert body["message"] == "Unauthorized"
    ok("401")
    body = expect_api_error(lambda: v1.list_namespaced_secret("kube-system"), 403, "Forbidden")
    assert "cannot list resource \"secrets\" in API group \"\" in the namespace \"kube-system\"" in body["message"]
    ok("403")
    body = expect_api_error(lambda: v1.read_namespaced_secret("missing", namespace), 404, "NotFound")
    assert body["message"] == 'secrets "missing" not found'
    ok("404")
    existing = client.V1Secret(metadata=client.V1ObjectMeta(name="my-postgres-secret"), string_data={"value": "x"})
    body = expect_api_error(lambda: v1.create_namespaced_secret(namespace, existing), 409, "AlreadyExists")
    assert body["message"] == 'secrets "my-postgres-secret" already exists'
    ok("409")
    invalid = client.V1Secret(metadata=client.V1ObjectMeta(name="bad-label", labels={CONNECTION: "bad value"}))
    body = expect_api_error(lambda: v1.create_namespaced_secret(namespace, invalid), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.labels", body
    ok("422")

    # 429 with Retry-After: urllib3 retries transparently...
    need("429-once")
    assert len(v1.list_namespaced_secret(namespace, label_selector=CONNECTION).items) == 1
    ok("429-retried")
    # ...and surfaces the plain-text 429 once its retries run out.
    need("429-always")
    try:
        v1.list_namespaced_secret(namespace, label_selector="always=429")
        raise AssertionError("expected the retries to run out")
    except ApiException as e:
        assert e.status == 429, (e.status, e.reason)
        assert e.reason == "Too Many Requests", e.reason
        body = e.body.decode() if isinstance(e.body, bytes) else e.body
        assert body == "Too many requests, please try again later.\n", body
        assert e.headers["Retry-After"] == "0", e.headers
    need("clear-fault")
    ok("429-exhausted")
    print("ALL OK", flush=True)


if __name__ == "__main__":
    main()
