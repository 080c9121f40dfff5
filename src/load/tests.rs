//! Settings, their defaults and refusals, and source address ranges.

use super::*;

#[test]
fn settings_refuse_what_they_used_to_clamp() {
    let ok = Settings::default();
    assert_eq!(ok.check(), Ok(()));
    assert!(ok.size >= ok.min_size(), "the default size fits its stamp");
    let small = Settings {
        size: 10,
        ..ok.clone()
    };
    let e = small.check().unwrap_err();
    assert!(e.contains(&format!("at least {}", ok.min_size())), "{e}");
    let wide = Settings {
        clients: 5,
        members: 10,
        ..ok.clone()
    };
    assert!(wide.check().unwrap_err().contains("at most --clients (5)"));
    let idle = Settings {
        clients: 5,
        idle: true,
        ..ok.clone()
    };
    assert_eq!(idle.check(), Ok(()), "members do not matter to an idle run");
    let none = Settings { members: 0, ..idle };
    assert!(
        none.check().is_err(),
        "but groups of none are still nonsense"
    );
    let ws = Settings {
        target: Target::Ws,
        ..ok.clone()
    };
    assert_eq!(
        ws.check().map_err(|e| e.contains("`web` feature")),
        if cfg!(feature = "web") {
            Ok(())
        } else {
            Err(true)
        },
        "--target ws runs exactly when the web feature is built"
    );
    for bad in [
        Settings {
            servers: Vec::new(),
            ..ok.clone()
        },
        Settings {
            duration: 0.0,
            ..ok.clone()
        },
        Settings {
            warmup: -1.0,
            ..ok.clone()
        },
        Settings {
            rate: f64::NAN,
            ..ok.clone()
        },
    ] {
        assert!(bad.check().is_err(), "{bad:?}");
    }
}

#[test]
fn the_minimum_size_holds_the_longest_stamp() {
    let s = Settings {
        clients: 1000,
        rate: 50_000.0,
        duration: 20.0,
        ..Settings::default()
    };
    let window_us = ((s.warmup + s.duration) * 1e6) as u64;
    let longest = Stamp {
        sender: 999,
        seq: (50_000 * 21 / 1000 - 1) as u32,
        due_us: window_us,
        queued_us: window_us * 10 - 1,
    };
    let mut text = String::new();
    longest.encode(0, &mut text);
    assert_eq!(text.len(), s.min_size(), "{text}");
}

#[test]
fn ws_runs_default_to_imservers_http_address() {
    assert_eq!(
        Target::Im.default_server().to_string(),
        crate::protocol::DEFAULT_ADDR
    );
    assert_eq!(
        Settings::default().servers[0].addr,
        Target::Im.default_server()
    );
    #[cfg(feature = "web")]
    assert_eq!(
        Target::Ws.default_server().to_string(),
        crate::server::web::DEFAULT_HTTP_ADDR
    );
}

#[test]
fn source_ip_ranges_parse() {
    let ips = parse_ip_range("127.0.0.1-127.0.0.3").unwrap();
    assert_eq!(ips.len(), 3);
    assert_eq!(ips[2], "127.0.0.3".parse::<IpAddr>().unwrap());
    assert_eq!(parse_ip_range("::1").unwrap().len(), 1);
    assert!(parse_ip_range("127.0.0.3-127.0.0.1").is_err());
    assert!(parse_ip_range("nope").is_err());
    assert!(parse_ip_range("10.0.0.0-10.1.0.0").is_err());
}
