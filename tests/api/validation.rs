//! Every bad input gets a 4xx with a message a person can act on, and writes nothing.

use crate::helpers::spawn_app;

struct Case {
    what: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    status: u16,
    says: &'static str,
}

fn form(what: &'static str, body: &str, status: u16, says: &'static str) -> Case {
    Case {
        what,
        content_type: "application/x-www-form-urlencoded",
        body: body.as_bytes().to_vec(),
        status,
        says,
    }
}

#[tokio::test]
async fn bad_signups_get_a_4xx_that_says_what_to_fix_and_write_nothing() {
    let app = spawn_app().await;
    let long_name = "n".repeat(101);
    let cases = vec![
        form(
            "malformed e-mail",
            "email=not-an-address&lists=newsletter",
            400,
            "L’indirizzo e-mail non è valido",
        ),
        form(
            "e-mail with CR/LF",
            "email=a%40example.org%0D%0ABcc%3A%20b%40example.org&lists=newsletter",
            400,
            "L’indirizzo e-mail non è valido",
        ),
        form(
            "name with CR/LF",
            "email=a%40example.org&name=Mario%0D%0ABcc%3A%20x&lists=newsletter",
            400,
            "caratteri non ammessi",
        ),
        form(
            "over-long name",
            &format!("email=a%40example.org&name={long_name}&lists=newsletter"),
            400,
            "al massimo 100 caratteri",
        ),
        form(
            "unknown list",
            "email=a%40example.org&lists=nessuna",
            400,
            "non esiste",
        ),
        form(
            "malformed list slug",
            "email=a%40example.org&lists=%3Cscript%3E",
            400,
            "non esiste",
        ),
        form(
            "no list",
            "email=a%40example.org",
            400,
            "almeno una newsletter",
        ),
        form(
            "English page",
            "email=nope&lists=newsletter&lang=en",
            400,
            "The e-mail address is not valid",
        ),
        form(
            "unknown language",
            "email=a%40example.org&lists=newsletter&lang=xx",
            400,
            "Lingua non supportata",
        ),
        form(
            "invalid UTF-8 (percent-encoded)",
            "email=a%40example.org&name=%FF%FE&lists=newsletter",
            400,
            "La richiesta non è valida",
        ),
        Case {
            what: "invalid UTF-8 (raw)",
            content_type: "application/x-www-form-urlencoded",
            body: b"email=a@example.org&name=\xff&lists=newsletter".to_vec(),
            status: 400,
            says: "La richiesta non è valida",
        },
        Case {
            what: "wrong content type",
            content_type: "text/plain",
            body: b"email=a@example.org".to_vec(),
            status: 415,
            says: "Formato della richiesta non supportato",
        },
        Case {
            what: "body over the limit",
            content_type: "application/x-www-form-urlencoded",
            body: format!(
                "email=a%40example.org&lists=newsletter&name={}",
                "x".repeat(20_000)
            )
            .into_bytes(),
            status: 413,
            says: "troppo grande",
        },
        Case {
            what: "malformed JSON",
            content_type: "application/json",
            body: b"{\"email\": ".to_vec(),
            status: 400,
            says: "invalid JSON",
        },
        Case {
            what: "JSON with an unknown field",
            content_type: "application/json",
            body: br#"{"email":"a@example.org","lists":["newsletter"],"admin":true}"#.to_vec(),
            status: 400,
            says: "unknown field",
        },
        Case {
            what: "JSON with a bad address",
            content_type: "application/json",
            body: br#"{"email":"a@b","lists":["newsletter"],"lang":"en"}"#.to_vec(),
            status: 400,
            says: "The e-mail address is not valid",
        },
    ];
    for case in cases {
        let res = app
            .client
            .post(format!("{}/subscribe", app.address))
            .header("Content-Type", case.content_type)
            .body(case.body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), case.status, "{}", case.what);
        let body = res.text().await.unwrap();
        assert!(body.contains(case.says), "{}: {body}", case.what);
        assert_eq!(app.count("subscribers").await, 0, "{}", case.what);
        assert_eq!(app.count("subscriptions").await, 0, "{}", case.what);
        assert_eq!(app.count("outbox").await, 0, "{}", case.what);
    }
}

#[tokio::test]
async fn a_bad_form_comes_back_with_the_readers_input_and_the_error() {
    let app = spawn_app().await;
    let res = app
        .post_form(
            "/subscribe",
            "email=mario%40&name=Mario&lists=newsletter&lang=en",
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"role="alert">The e-mail address is not valid"#),
        "{html}"
    );
    assert!(
        html.contains(r#"value="mario@""#),
        "the address typed is kept"
    );
    assert!(html.contains(r#"value="Mario""#));
}

#[tokio::test]
async fn json_errors_are_json_and_unknown_pages_are_404_not_500() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/subscribe", app.address))
        .json(&serde_json::json!({ "email": "x", "lists": ["newsletter"], "lang": "en" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_email");
    assert_eq!(
        body["error"]["message"],
        "The e-mail address is not valid: check that it is written like name@example.org."
    );

    let res = app.get("/no-such-page").await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("Pagina non trovata"));
    let res = app
        .client
        .delete(format!("{}/subscribe", app.address))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
}

#[tokio::test]
async fn health_reports_the_database() {
    let app = spawn_app().await;
    let res = app.get("/health").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok");
}
