use mail_parser::MimeHeaders;

use crate::helpers::{confirm_link, spawn_app, spawn_app_with, BASE_URL};

#[tokio::test]
async fn the_signup_form_lists_the_public_lists_and_works_without_javascript() {
    let app = spawn_app().await;
    app.create_list("riservata", "Lista riservata", false, true)
        .await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Iscriviti alla newsletter"));
    assert!(html.contains(r#"<form method="post" action="/subscribe">"#));
    assert!(
        html.contains(r#"value="newsletter""#),
        "the default public list is offered"
    );
    assert!(!html.contains("riservata"), "private lists are not offered");
    let en = app.get("/?lang=en").await.text().await.unwrap();
    assert!(en.contains("Subscribe to the newsletter"));
}

#[tokio::test]
async fn a_new_reader_gets_a_confirmation_mail_in_text_and_html_with_a_link() {
    let app = spawn_app().await;
    let res = app.subscribe("Lettrice@Example.org", &["newsletter"]).await;
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Controlla la tua casella di posta"));

    let mails = app.mails(1).await;
    let mail = &mails[0];
    assert_eq!(mail.rcpt_to, vec!["lettrice@example.org"]);
    assert_eq!(mail.mail_from, "redazione@example.org");
    let parsed = mail.parsed();
    let from = parsed.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Redazione"));
    assert_eq!(from.address(), Some("redazione@example.org"));
    assert_eq!(parsed.subject(), Some("Conferma l’iscrizione: Newsletter"));
    assert!(parsed.message_id().unwrap().ends_with("@example.org"));
    assert!(parsed.date().is_some());
    assert!(parsed.content_type().unwrap().c_subtype.as_deref() == Some("alternative"));
    let text = parsed.body_text(0).unwrap();
    assert!(text.starts_with("Ciao Niccolò,"), "{text}");
    let link = confirm_link(mail);
    assert!(link.starts_with(&format!("{BASE_URL}/confirm?token=")));
    assert!(link.ends_with("&lang=it"));
    assert_eq!(
        app.status_of("lettrice@example.org", "newsletter")
            .await
            .as_deref(),
        Some("pending")
    );
}

#[tokio::test]
async fn the_answer_is_the_same_for_new_pending_and_confirmed_addresses() {
    let app = spawn_app().await;
    app.confirmed_subscriber("confermata@example.org", "newsletter")
        .await;
    app.pending_signup("in-attesa@example.org", "newsletter")
        .await;

    let mut answers = Vec::new();
    for email in [
        "nuova@example.org",
        "in-attesa@example.org",
        "confermata@example.org",
    ] {
        let res = app.subscribe(email, &["newsletter"]).await;
        answers.push((res.status(), res.text().await.unwrap()));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert_eq!(
        app.status_of("confermata@example.org", "newsletter")
            .await
            .as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn a_pending_address_gets_the_mail_again_but_at_most_three_times_an_hour() {
    let app = spawn_app().await;
    for _ in 0..5 {
        assert_eq!(
            app.subscribe("ripetuta@example.org", &["newsletter"])
                .await
                .status(),
            200
        );
    }
    let mails = app.mails(3).await;
    let drained = app.worker.drain().await.unwrap();
    assert_eq!(drained.sent, 0);
    assert_eq!(app.smtp.received().len(), 3);
    assert_eq!(app.count("outbox").await, 3);
    // Each mail carries its own working link.
    let links: std::collections::HashSet<_> = mails.iter().map(confirm_link).collect();
    assert_eq!(links.len(), 3);
}

#[tokio::test]
async fn json_clients_subscribe_with_the_same_rules() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/subscribe", app.address))
        .json(&serde_json::json!({
            "email": "api@example.org", "name": "Zoë", "lists": ["newsletter"], "lang": "en"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "accepted");
    let mails = app.mails(1).await;
    let parsed = mails[0].parsed();
    assert_eq!(
        parsed.subject(),
        Some("Confirm your subscription: Newsletter")
    );
    assert!(parsed.body_text(0).unwrap().starts_with("Hello Zoë,"));
    assert!(confirm_link(&mails[0]).ends_with("&lang=en"));
}

#[tokio::test]
async fn single_opt_in_lists_subscribe_at_once_without_mail() {
    let app = spawn_app().await;
    app.create_list("flash", "Notizie flash", true, false).await;
    assert_eq!(
        app.subscribe("subito@example.org", &["flash"])
            .await
            .status(),
        200
    );
    assert_eq!(
        app.status_of("subito@example.org", "flash")
            .await
            .as_deref(),
        Some("confirmed")
    );
    app.worker.drain().await.unwrap();
    assert_eq!(app.count("outbox").await, 0);
}

#[tokio::test]
async fn a_filled_honeypot_writes_nothing_but_gets_the_usual_answer() {
    let app = spawn_app().await;
    let res = app
        .post_form(
            "/subscribe",
            "email=bot%40example.org&lists=newsletter&website=http%3A%2F%2Fspam",
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Controlla la tua casella di posta"));
    assert_eq!(app.count("subscribers").await, 0);
    assert_eq!(app.count("outbox").await, 0);
}

#[tokio::test]
async fn signups_over_the_per_ip_limit_get_429_and_write_nothing() {
    let app = spawn_app_with(|s| s.signup.per_ip_per_minute = 2).await;
    for i in 0..2 {
        let res = app
            .subscribe(&format!("ok{i}@example.org"), &["newsletter"])
            .await;
        assert_eq!(res.status(), 200);
    }
    let res = app.subscribe("troppo@example.org", &["newsletter"]).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "60");
    assert!(res.text().await.unwrap().contains("Troppe richieste"));
    assert_eq!(app.count("subscribers").await, 2);
}

/// Behind a proxy the client is the address the proxy appended (the rightmost entry): a client
/// that writes its own entries to the left of it, rotating them, is still one client.
#[tokio::test]
async fn behind_a_trusted_proxy_a_client_rotating_forwarded_for_entries_is_still_limited() {
    let app = spawn_app_with(|s| {
        s.signup.per_ip_per_minute = 2;
        s.signup.trust_proxy_headers = true;
    })
    .await;
    let signup = |i: u32, client: &'static str| {
        let forwarded = format!("198.18.{}.{}, {client}", i / 250, i % 250);
        app.client
            .post(format!("{}/subscribe", app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Forwarded-For", forwarded)
            .body(format!("email=r{i}%40example.org&lists=newsletter"))
            .send()
    };
    for i in 0..2 {
        assert_eq!(signup(i, "203.0.113.5").await.unwrap().status(), 200);
    }
    for i in 2..6 {
        assert_eq!(signup(i, "203.0.113.5").await.unwrap().status(), 429);
    }
    // Another client behind the same proxy has its own count; so has another /64.
    assert_eq!(signup(7, "203.0.113.6").await.unwrap().status(), 200);
    assert_eq!(signup(8, "2001:db8:0:1::5").await.unwrap().status(), 200);
    assert_eq!(signup(9, "2001:db8:0:1::6").await.unwrap().status(), 200);
    assert_eq!(
        signup(10, "2001:db8:0:1:ffff::1").await.unwrap().status(),
        429,
        "the same /64"
    );
    assert_eq!(app.count("subscribers").await, 5);
}

#[tokio::test]
async fn simultaneous_signups_of_one_new_address_all_succeed_and_create_one_subscriber() {
    let app = spawn_app().await;
    // A double click, or a form submitted twice at once: the racing inserts must not end in a
    // 500 for whoever loses.
    let answers = futures_util::future::join_all(
        (0..6).map(|_| app.subscribe("doppio@example.org", &["newsletter"])),
    )
    .await;
    for answer in answers {
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(app.count("subscribers").await, 1);
    assert_eq!(app.count("subscriptions").await, 1);
    // Each signup counts the mail already queued under the subscriber's row lock: exactly the
    // hourly quota goes out.
    assert_eq!(app.count("outbox").await, 3, "3 confirmation mails an hour");
}

#[tokio::test]
async fn a_list_created_while_serving_takes_signups_at_once() {
    let app = spawn_app().await;
    // The first signup leaves a copy of the public lists in the instance.
    assert_eq!(
        app.subscribe("prima@example.org", &["newsletter"])
            .await
            .status(),
        200
    );
    app.create_list("economia", "Economia", true, true).await;
    assert_eq!(
        app.subscribe("seconda@example.org", &["economia"])
            .await
            .status(),
        200
    );
    assert_eq!(
        app.status_of("seconda@example.org", "economia")
            .await
            .as_deref(),
        Some("pending")
    );
    // A private list stays refused, however fresh the copy.
    app.create_list("interna", "Interna", false, true).await;
    assert_eq!(
        app.subscribe("terza@example.org", &["interna"])
            .await
            .status(),
        400
    );
}
