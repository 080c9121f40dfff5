use super::request::MAX_SCRAPE_HEAD;
use super::*;

#[test]
fn only_get_metrics_is_answered_with_the_text() {
    let ask = |head: &str| read_request(head.as_bytes()).map(|(ask, _)| ask);
    assert_eq!(ask("GET /metrics HTTP/1.1\r\n\r\n"), Some(Ask::Metrics));
    assert_eq!(ask("GET /metrics?x=1 HTTP/1.1\r\n\r\n"), Some(Ask::Metrics));
    assert_eq!(ask("GET / HTTP/1.1\r\n\r\n"), Some(Ask::Refuse(404)));
    assert_eq!(
        ask("POST /metrics HTTP/1.1\r\n\r\n"),
        Some(Ask::Refuse(405))
    );
    assert_eq!(ask("GET /metrics HTTP/1.1\r\n"), None);
    assert_eq!(ask("\x01\x02 nonsense\r\n\r\n"), Some(Ask::Refuse(400)));
    let endless = format!(
        "GET /metrics HTTP/1.1\r\nX: {}",
        "a".repeat(MAX_SCRAPE_HEAD)
    );
    assert_eq!(ask(&endless), Some(Ask::Refuse(431)));
}

#[test]
fn a_snapshot_is_openmetrics_text_with_every_family() {
    let text = Snapshot::default().encode();
    assert!(text.ends_with("# EOF\n"), "{text}");
    for name in [
        "imchat_lines_in",
        "imchat_pass_duration_seconds",
        "imchat_connections",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} in {text}"
        );
    }
}
