//! Canary test: distinctive credentials are fed through every malformed form of a connection value, in both
//! dialects, and no error message or Debug output may contain any part of them (Airflow's own port error
//! echoes part of the password, and the Task SDK's "Invalid connection string: {uri}" echoes all of it).

use airflow_compat::{Dialect, decode_secret_value, parse_connection};

const PASSWORD: &str = "Qx7Zk9WvPp3";
const LOGIN: &str = "Lg4UqJm2";
const SECRET_HOST: &str = "hj8kqzx.example";

/// Every 4-character window of the canaries: "any part" of them.
fn fragments() -> Vec<String> {
    [PASSWORD, LOGIN, SECRET_HOST]
        .iter()
        .flat_map(|s| {
            let chars: Vec<char> = s.chars().collect();
            chars.windows(4).map(|w| w.iter().collect::<String>()).collect::<Vec<_>>()
        })
        .filter(|f| f != ".exa" && f != "exam" && f != "xamp" && f != "ampl" && f != "mple")
        .collect()
}

/// Malformed connection values, each carrying the canaries.
fn malformed_values() -> Vec<(&'static str, String)> {
    let (p, l, h) = (PASSWORD, LOGIN, SECRET_HOST);
    vec![
        ("raw slash in password", format!("postgres://{l}:{p}/x@{h}:5432/db")),
        ("raw hash in password", format!("postgres://{l}:{p}#x@{h}:5432/db")),
        ("raw question mark in password", format!("postgres://{l}:{p}?x@{h}:5432/db")),
        ("port not an integer", format!("postgres://{l}:{p}@{h}:{p}/db")),
        ("negative port", format!("postgres://{l}:{p}@{h}:-1/db")),
        ("port out of range", format!("postgres://{l}:{p}@{h}:99999/db")),
        ("three schemes", format!("a://{l}:{p}@{h}/x?next=b://y&c=d://z")),
        ("credentials before nested protocol", format!("http://{l}:{p}@https://{h}/x")),
        ("colon before nested protocol", format!("http://{p}:1/https://{h}/x")),
        ("unbalanced IPv6 bracket", format!("postgres://{l}:{p}@[{h}/db")),
        ("invalid bracketed host", format!("postgres://{l}:{p}@[{h}]/db")),
        ("NFKC-invalid netloc", format!("postgres://{l}:{p}@{h}\u{ff03}x/db")),
        (
            "JSON syntax error",
            format!(r#"{{"conn_type": "postgres", "login": "{l}", "password": "{p}", "host": "{h}""#),
        ),
        ("JSON trailing garbage", format!(r#"{{"password": "{p}", "login": "{l}"}} {p}"#)),
        ("JSON unknown field", format!(r#"{{"password": "{p}", "login": "{l}", "hostname": "{h}"}}"#)),
        ("JSON port not an integer", format!(r#"{{"password": "{p}", "port": "{p}", "host": "{h}"}}"#)),
        ("JSON port a list", format!(r#"{{"password": "{p}", "port": ["{p}"]}}"#)),
        ("JSON password not a string", format!(r#"{{"login": "{l}", "password": ["{p}"]}}"#)),
        ("JSON uri mixed with fields", format!(r#"{{"uri": "postgres://{l}:{p}@{h}/db", "password": "{p}"}}"#)),
        ("JSON uri malformed", format!(r#"{{"uri": "postgres://{l}:{p}/x@{h}:5432/db"}}"#)),
        ("JSON conn_id field", format!(r#"{{"conn_id": "{l}", "password": "{p}"}}"#)),
        ("whitespace only", " \n\t ".to_owned()),
    ]
}

/// Values only the server dialect rejects (it validates `extra`).
fn server_only_malformed() -> Vec<(&'static str, String)> {
    let (p, l, h) = (PASSWORD, LOGIN, SECRET_HOST);
    vec![
        ("extra not JSON", format!(r#"{{"login": "{l}", "password": "{p}", "extra": "{p} not json"}}"#)),
        ("extra not an object", format!(r#"{{"login": "{l}", "password": "{p}", "extra": "[\"{p}\"]"}}"#)),
        ("__extra__ not JSON", format!("postgres://{l}:{p}@{h}/db?__extra__={p}")),
    ]
}

fn assert_clean(context: &str, text: &str) {
    for fragment in fragments() {
        assert!(!text.contains(&fragment), "{context}: output contains `{fragment}`: {text}");
    }
}

#[test]
fn malformed_values_never_leak_credentials() {
    let mut checked = 0;
    for dialect in [Dialect::Server, Dialect::Worker] {
        let mut cases = malformed_values();
        if dialect == Dialect::Server {
            cases.extend(server_only_malformed());
        }
        for (name, value) in cases {
            let result = parse_connection(&value, dialect);
            let context = format!("{name} ({dialect})");
            let error = match result {
                Err(e) => e,
                Ok(conn) => panic!("{context}: expected an error, got {conn:?}"),
            };
            assert_clean(&context, &error.to_string());
            assert_clean(&context, &format!("{error:?}"));
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * malformed_values().len() + server_only_malformed().len());
}

#[test]
fn parsed_connections_never_show_credentials_in_debug() {
    let value = format!("postgres://{LOGIN}:{PASSWORD}@{SECRET_HOST}:5432/db?token={PASSWORD}");
    for dialect in [Dialect::Server, Dialect::Worker] {
        let conn = parse_connection(&value, dialect).unwrap();
        let debug = format!("{conn:?}");
        for fragment in fragments().into_iter().filter(|f| PASSWORD.contains(f.as_str())) {
            assert!(!debug.contains(&fragment), "{dialect}: Debug shows `{fragment}`: {debug}");
        }
    }
}

#[test]
fn undecodable_values_never_leak() {
    // Bad padding, and valid base64 of bytes that are not UTF-8, both around the canary.
    let encoded_canary = "UXg3Wms5V3ZQcDM"; // base64 of "Qx7Zk9WvPp3" without its padding
    for value in [encoded_canary.to_owned(), format!("{encoded_canary}/w==")] {
        let error = decode_secret_value(&value).unwrap_err();
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("UXg3"), "{text}");
            assert_clean("base64", &text);
        }
    }
}
