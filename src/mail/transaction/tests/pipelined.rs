use lettre::transport::smtp::commands::{Mail, Rcpt};

use super::*;
use crate::mail::transaction::pipelined::{written, Group};

#[test]
fn lines_starting_with_a_dot_are_stuffed_and_the_content_is_ended() {
    let mut out = String::from("what the previous write carried");
    let mut wire = |content| {
        written(&mut out, content, None);
        out.clone()
    };
    assert_eq!(
        wire(".a\r\n..b\r\nc.\r\n."),
        "..a\r\n...b\r\nc.\r\n..\r\n.\r\n"
    );
    assert_eq!(wire("a\r\n"), "a\r\n.\r\n");
    assert_eq!(wire(""), "\r\n.\r\n");
}

#[tokio::test]
async fn a_relay_with_pipelining_gets_mail_rcpt_and_data_before_answering() {
    // This relay answers nothing until it has all three commands: a client that waited
    // for the reply to MAIL would never finish.
    let (mut conn, relay) = relay(
        EHLO_PIPELINING,
        vec![
            commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
            content(0, "250 queued\r\n"),
        ],
        false,
    )
    .await;
    let (a, body) = (to("a@example.org"), "Subject: caffè\r\n\r\n.punto\r\n");
    send(&mut conn, &a, body, None).await.unwrap();
    assert!(conn.is_idle());
    let seen = relay.await.unwrap();
    let expected = format!(
        "{}Subject: caffè\r\n\r\n..punto\r\n.\r\n",
        group("a@example.org")
    );
    assert!(seen.ends_with(&expected), "{seen}");
}

#[tokio::test]
async fn the_next_message_is_announced_with_the_content_of_this_one() {
    // The relay answers the content only once it also has the next MAIL, RCPT and DATA.
    let (mut conn, relay) = relay(
        EHLO_PIPELINING,
        vec![
            commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
            content(3, "250 queued a\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n"),
            content(0, "250 queued b\r\n"),
        ],
        false,
    )
    .await;
    let (a, b) = (to("a@example.org"), to("b@example.org"));
    send(&mut conn, &a, "Subject: a\r\n\r\nA\r\n", Some(&b))
        .await
        .unwrap();
    assert!(!conn.is_idle(), "the relay waits for b's content");
    send(&mut conn, &b, "Subject: b\r\n\r\nB\r\n", None)
        .await
        .unwrap();
    assert!(conn.is_idle());
    let seen = relay.await.unwrap();
    let expected = format!(
        "{}Subject: a\r\n\r\nA\r\n.\r\n{}Subject: b\r\n\r\nB\r\n.\r\n",
        group("a@example.org"),
        group("b@example.org")
    );
    assert!(seen.ends_with(&expected), "{seen}");
}

#[tokio::test]
async fn a_message_is_done_on_its_own_reply_whatever_the_next_group_awaits() {
    // The relay accepts a's content at once but holds its answers to b's MAIL, RCPT and
    // DATA: sending a must not wait for them (a timeout there would retry an accepted a).
    let (release, hold) = tokio::sync::oneshot::channel();
    let (mut conn, relay) = relay(
        EHLO_PIPELINING,
        vec![
            commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
            content(3, "250 queued a\r\n"),
            Step {
                hold: Some(hold),
                ..commands(0, "250 ok\r\n250 ok\r\n354 go ahead\r\n")
            },
            content(0, "250 queued b\r\n"),
        ],
        false,
    )
    .await;
    let (a, b) = (to("a@example.org"), to("b@example.org"));
    send(&mut conn, &a, "Subject: a\r\n\r\nA\r\n", Some(&b))
        .await
        .unwrap();
    release.send(()).unwrap();
    send(&mut conn, &b, "Subject: b\r\n\r\nB\r\n", None)
        .await
        .unwrap();
    assert!(relay.await.unwrap().ends_with("B\r\n.\r\n"));
}

#[tokio::test]
async fn an_announced_message_refused_by_the_relay_fails_when_its_turn_comes() {
    let (mut conn, relay) = relay(
        EHLO_PIPELINING,
        vec![
            commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
            content(
                3,
                "250 queued a\r\n250 ok\r\n550 5.1.1 no such mailbox\r\n554 5.5.1 no valid recipients\r\n",
            ),
            commands(1, "221 bye\r\n"),
        ],
        false,
    )
    .await;
    let (a, b) = (to("a@example.org"), to("b@example.org"));
    send(&mut conn, &a, "Subject: a\r\n\r\nA\r\n", Some(&b))
        .await
        .unwrap();
    let err = send(&mut conn, &b, "Subject: b\r\n\r\nB\r\n", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(r) if r.contains("no such mailbox")),
        "{err:?}"
    );
    // Every reply was read and no content is awaited: QUIT is the next thing said.
    conn.close().await;
    assert!(relay.await.unwrap().ends_with("DATA\r\nQUIT\r\n"));
}

#[tokio::test]
async fn sending_another_message_than_the_one_announced_is_refused() {
    let (mut conn, _relay) = relay(
        EHLO_PIPELINING,
        vec![
            commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
            content(3, "250 queued a\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n"),
        ],
        false,
    )
    .await;
    let (a, b, c) = (
        to("a@example.org"),
        to("b@example.org"),
        to("c@example.org"),
    );
    send(&mut conn, &a, "Subject: a\r\n\r\nA\r\n", Some(&b))
        .await
        .unwrap();
    let err = send(&mut conn, &c, "Subject: c\r\n\r\nC\r\n", None)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
    assert!(!conn.is_idle(), "the connection must not be reused");
}

#[tokio::test]
async fn a_relay_without_pipelining_gets_one_command_at_a_time() {
    let (mut conn, relay) = relay(
        EHLO,
        vec![
            commands(1, "250 ok\r\n"),
            commands(1, "250 ok\r\n"),
            commands(1, "354 go ahead\r\n"),
            content(0, "250 queued\r\n"),
        ],
        true,
    )
    .await;
    let (a, b) = (to("a@example.org"), to("b@example.org"));
    // Nothing is announced to a relay that does not pipeline, even when asked.
    send(&mut conn, &a, "Subject: caffè\r\n\r\nciao\r\n", Some(&b))
        .await
        .unwrap();
    assert!(conn.is_idle());
    let seen = relay.await.unwrap();
    let expected = format!(
        "{}Subject: caffè\r\n\r\nciao\r\n.\r\n",
        group("a@example.org")
    );
    assert!(seen.ends_with(&expected), "{seen}");
}

#[tokio::test]
async fn a_refused_recipient_is_permanent_and_every_reply_is_read() {
    let (mut conn, relay) = relay(
        EHLO_PIPELINING,
        vec![
            commands(
                3,
                "250 ok\r\n550 5.1.1 no such mailbox\r\n554 5.5.1 no valid recipients\r\n",
            ),
            commands(1, "221 bye\r\n"),
        ],
        false,
    )
    .await;
    let err = send(
        &mut conn,
        &to("a@example.org"),
        "Subject: x\r\n\r\nx\r\n",
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(r) if r.contains("no such mailbox")),
        "{err:?}"
    );
    // The next command gets its own reply, not one left over from the group.
    assert_eq!(
        conn.smtp
            .command("QUIT\r\n")
            .await
            .unwrap()
            .code()
            .to_string(),
        "221"
    );
    assert!(relay.await.unwrap().ends_with("DATA\r\nQUIT\r\n"));
}

#[tokio::test]
async fn data_accepted_after_a_refused_recipient_is_ended_with_a_lone_dot() {
    let (mut conn, relay) = relay(
        EHLO_PIPELINING,
        vec![
            commands(3, "250 ok\r\n451 4.3.0 try later\r\n354 go ahead\r\n"),
            content(0, "554 5.5.1 no valid recipients\r\n"),
        ],
        false,
    )
    .await;
    let err = send(
        &mut conn,
        &to("a@example.org"),
        "Subject: x\r\n\r\nx\r\n",
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, SendError::Temporary(r) if r.contains("try later")),
        "{err:?}"
    );
    assert!(relay.await.unwrap().ends_with("DATA\r\n.\r\n"));
}

#[test]
fn the_group_is_mail_rcpt_and_data_in_order() {
    let mail = Mail::new(Some("a@example.org".parse().unwrap()), vec![]);
    let rcpt = Rcpt::new("b@example.org".parse().unwrap(), vec![]);
    assert_eq!(
        Group(mail, rcpt).to_string(),
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
    );
}

/// A relay without 8BITMIME gets 7-bit messages, declared as nothing; an 8-bit one is a
/// permanent failure before anything is written for it.
#[tokio::test]
async fn a_relay_without_8bitmime_gets_7bit_mail_and_8bit_mail_fails_at_once() {
    const EHLO_7BIT: &str = "250-relay.test\r\n250 PIPELINING\r\n";
    let (mut conn, relay) = relay(
        EHLO_7BIT,
        vec![
            commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
            content(0, "250 queued\r\n"),
        ],
        true,
    )
    .await;
    let a = to("a@example.org");
    let refused = send(&mut conn, &a, "Subject: caffè\r\n\r\nè\r\n", None).await;
    assert!(
        matches!(&refused, Err(SendError::Permanent(r)) if r.contains("8BITMIME")),
        "{refused:?}"
    );
    send(&mut conn, &a, "Subject: ok\r\n\r\nplain\r\n", None)
        .await
        .unwrap();
    let seen = relay.await.unwrap();
    assert!(
        seen.ends_with("MAIL FROM:<news@example.org>\r\nRCPT TO:<a@example.org>\r\nDATA\r\nSubject: ok\r\n\r\nplain\r\n.\r\n"),
        "no BODY=8BITMIME declared, nothing of the refused message: {seen}"
    );
}

/// A non-ASCII mailbox (RFC 6531) goes out with SMTPUTF8 when the relay offers it, and fails
/// permanently, before anything is written, when it does not.
#[tokio::test]
async fn an_international_mailbox_needs_a_relay_that_offers_smtputf8() {
    const EHLO_UTF8: &str = "250-relay.test\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n";
    let (mut conn, offered) = relay(
        EHLO_UTF8,
        vec![
            commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
            content(0, "250 queued\r\n"),
        ],
        true,
    )
    .await;
    let utf8 = to("用户@例子.广告");
    send(&mut conn, &utf8, "To: 用户@例子.广告\r\n\r\nciao\r\n", None)
        .await
        .unwrap();
    let seen = offered.await.unwrap();
    assert!(
        seen.contains(
            "MAIL FROM:<news@example.org> SMTPUTF8 BODY=8BITMIME\r\nRCPT TO:<用户@例子.广告>\r\n"
        ) || seen.contains(
            "MAIL FROM:<news@example.org> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<用户@例子.广告>\r\n"
        ),
        "{seen}"
    );

    let (mut conn, not_offered) = relay(
        EHLO_PIPELINING,
        vec![
            commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
            content(0, "250 queued\r\n"),
        ],
        true,
    )
    .await;
    let refused = send(&mut conn, &utf8, "To: x\r\n\r\nciao\r\n", None).await;
    assert!(
        matches!(&refused, Err(SendError::Permanent(r)) if r.contains("SMTPUTF8")),
        "{refused:?}"
    );
    assert!(
        conn.is_idle(),
        "nothing was written: the connection is reusable"
    );
    let ascii = to("a@example.org");
    send(&mut conn, &ascii, "To: a@example.org\r\n\r\nciao\r\n", None)
        .await
        .unwrap();
    let seen = not_offered.await.unwrap();
    assert_eq!(
        seen.matches("MAIL FROM").count(),
        1,
        "only the ASCII one: {seen}"
    );
    assert!(!seen.contains("用户"), "{seen}");
}
