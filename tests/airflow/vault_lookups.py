"""Airflow's own VaultBackend (apache-airflow-providers-hashicorp 4.8.4) running lookups for tests/all/vault.rs.

Reads one JSON document on stdin: {"url", "token", "cases": [{"kwargs", "multi_team", "call", "id", "team"}]},
builds a VaultBackend per case with `url`, `token` and the case's kwargs, and writes one JSON list to the file
named by its argument (Airflow logs to stdout): per case the
returned value (as Airflow returns it, `str()` of a non-string) or the exception's type, and for connections the
fields Airflow's `get_connection` deserializes (conn_type, host, schema, login, password, port, extra) or the type
of the exception deserializing raised.
Multi-team mode is Airflow's `[core] multi_team`, set per case through the environment, as Airflow reads it on
every lookup.
"""

import json
import os
import sys


def main() -> None:
    request = json.load(sys.stdin)
    from airflow.providers.hashicorp.secrets.vault import VaultBackend

    results = []
    for case in request["cases"]:
        os.environ["AIRFLOW__CORE__MULTI_TEAM"] = "True" if case.get("multi_team") else "False"
        backend = VaultBackend(url=request["url"], token=request["token"], **case["kwargs"])
        call, key, team = case["call"], case["id"], case.get("team")
        result = {"value": None, "connection": None, "error": None}
        try:
            if call == "get_conn_value":
                value = backend.get_conn_value(key, team_name=team)
                result["value"] = value if value is None or isinstance(value, str) else str(value)
                if value:
                    try:
                        conn = backend.deserialize_connection(key, value)
                    except Exception as error:  # noqa: BLE001 - a value Airflow cannot deserialize
                        result["connection"] = {"error": type(error).__name__}
                        results.append(result)
                        continue
                    result["connection"] = {
                        "conn_type": conn.conn_type,
                        "host": conn.host,
                        "schema": conn.schema,
                        "login": conn.login,
                        "password": conn.password,
                        "port": conn.port,
                        "extra": conn.extra,
                    }
            elif call == "get_variable":
                value = backend.get_variable(key, team_name=team)
                result["value"] = value if value is None or isinstance(value, str) else str(value)
            elif call == "get_config":
                value = backend.get_config(key)
                result["value"] = value if value is None or isinstance(value, str) else str(value)
            else:
                raise ValueError(f"unknown call {call}")
        except Exception as error:  # noqa: BLE001 - the type is the result
            result["error"] = type(error).__name__
        results.append(result)
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump(results, out)


if __name__ == "__main__":
    main()
