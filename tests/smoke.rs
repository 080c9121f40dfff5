mod common;

#[test]
fn register_answers_online_users() {
    let server = common::Server::start(&[]);
    let mut alice = server.client();
    alice.send("REGISTER [\"alice\"]");
    alice.expect_line("ONLINE_USERS {\"alice\":\"available\"}");
}
