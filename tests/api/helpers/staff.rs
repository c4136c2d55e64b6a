//! Staff accounts in tests: creating them, signing in over HTTP as a browser does (the form's
//! token, the cookies), and posting forms with the session's CSRF token.

use iscriviti::domain::{Lang, Password, Role, SubscriberEmail};
use iscriviti::staff::{self, Actor, NewMember};

use super::{urlencode, TestApp};

/// The password of every test account.
pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-in browser: its session cookie and the session's CSRF token.
pub struct StaffClient<'a> {
    app: &'a TestApp,
    pub session: String,
    pub csrf: String,
}

/// The value a response sets for cookie `name` (`Some("")` when it clears it).
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (n, value) = pair.split_once('=')?;
            (n.trim() == name).then(|| value.trim().to_owned())
        })
}

/// The whole `Set-Cookie` header of cookie `name`.
pub fn set_cookie_header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of the hidden input `name` of a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

impl TestApp {
    /// Creates a staff account with [`PASSWORD`].
    pub async fn staff_account(&self, email: &str, role: Role) -> staff::Member {
        let new = NewMember {
            email: SubscriberEmail::parse(email).unwrap(),
            role,
            language: Lang::En,
            password: Some(Password::parse(PASSWORD).unwrap()),
        };
        staff::create(&self.state, new, &Actor::CommandLine)
            .await
            .unwrap()
            .0
    }

    /// The sign-in form's token and the cookie that carries it, as a browser gets them.
    pub async fn visitor_token(&self, path: &str) -> (String, String) {
        let page = self.get(path).await;
        let cookie = set_cookie(&page, "iscriviti_form").expect("the form page sets its cookie");
        let html = page.text().await.unwrap();
        (cookie, hidden(&html, "csrf").expect("the form has a token"))
    }

    /// Posts the sign-in form (with `extra` cookies, e.g. an old session).
    pub async fn sign_in(&self, email: &str, password: &str, extra: &str) -> reqwest::Response {
        let (cookie, csrf) = self.visitor_token("/admin/login").await;
        self.client
            .post(format!("{}/admin/login", self.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cookie", format!("iscriviti_form={cookie}{extra}"))
            .body(format!(
                "csrf={csrf}&email={}&password={}&next=%2Fadmin&lang=en",
                urlencode(email),
                urlencode(password)
            ))
            .send()
            .await
            .unwrap()
    }

    /// A staff member of `role`, signed in.
    pub async fn staff(&self, email: &str, role: Role) -> StaffClient<'_> {
        self.staff_account(email, role).await;
        self.signed_in(email).await
    }

    /// Signs an existing account in.
    pub async fn signed_in(&self, email: &str) -> StaffClient<'_> {
        let res = self.sign_in(email, PASSWORD, "").await;
        assert_eq!(res.status(), 303, "{email} signs in");
        let session = set_cookie(&res, "iscriviti_session").expect("a session cookie");
        let mut client = StaffClient {
            app: self,
            session,
            csrf: String::new(),
        };
        let home = client.get("/admin/account").await.text().await.unwrap();
        client.csrf = hidden(&home, "csrf").expect("signed-in pages carry the CSRF token");
        client
    }
}

impl StaffClient<'_> {
    fn cookie(&self) -> String {
        format!("iscriviti_session={}", self.session)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.app
            .client
            .get(format!("{}{path}", self.app.address))
            .header("Cookie", self.cookie())
            .send()
            .await
            .unwrap()
    }

    /// Posts a form with the session's CSRF token.
    pub async fn post(&self, path: &str, body: &str) -> reqwest::Response {
        self.post_raw(path, &format!("csrf={}&{body}", self.csrf))
            .await
    }

    /// Posts a form with the session's CSRF token as the compose page's live preview does.
    pub async fn post_live(&self, path: &str, body: &str) -> reqwest::Response {
        self.app
            .client
            .post(format!("{}{path}", self.app.address))
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .header("Cookie", self.cookie())
            .header("X-Live-Preview", "1")
            .body(format!("csrf={}&{body}", self.csrf))
            .send()
            .await
            .unwrap()
    }

    /// Posts a form as it is (no token added).
    pub async fn post_raw(&self, path: &str, body: &str) -> reqwest::Response {
        self.app
            .client
            .post(format!("{}{path}", self.app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cookie", self.cookie())
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Posts a `multipart/form-data` form: `(name, file name, content)` parts in order (a
    /// file name marks a file).
    pub async fn post_multipart(
        &self,
        path: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> reqwest::Response {
        let boundary = "----iscriviti-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, file, content) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some(file) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                         Content-Type: text/csv\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.app
            .client
            .post(format!("{}{path}", self.app.address))
            .header("Cookie", self.cookie())
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap()
    }
}
