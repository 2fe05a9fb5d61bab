//! A signed-in web-UI client without a browser: the login form's double-submit token, the
//! session cookie, form POSTs (redirects not followed) and a page's CSRF token.

use reqwest::StatusCode;

use super::browser::{PASSWORD, form};

/// A client that does not follow redirects, so tests see the 303s.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The login form's double-submit token (from its `schoon_login` cookie).
pub async fn login_token(http: &reqwest::Client, base: &str) -> String {
    let page = http.get(format!("{base}/ui/login")).send().await.unwrap();
    page.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("schoon_login="))
        .expect("login cookie")
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string()
}

/// One login attempt with `token` from [`login_token`].
pub async fn try_login(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    http.post(format!("{base}/ui/login"))
        .header("cookie", format!("schoon_login={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("username", user),
            ("password", password),
            ("token", token),
        ]))
        .send()
        .await
        .unwrap()
}

/// The `csrf` field of a page's form.
pub fn csrf_of(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// A signed-in client: its session cookie.
pub struct UiClient {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Does not follow redirects.
    pub http: reqwest::Client,
    /// `schoon_session=…`.
    pub cookie: String,
}

impl UiClient {
    /// Signs `user` in with the test password (asserts the 303).
    pub async fn login(base: &str, user: &str) -> UiClient {
        let http = no_redirects();
        let token = login_token(&http, base).await;
        let resp = try_login(&http, base, &token, user, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login {user}");
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("schoon_session="))
            .expect("session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_string();
        UiClient {
            base: base.to_string(),
            http,
            cookie,
        }
    }

    /// GETs a page: status and body.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// POSTs a form: the status and the redirect target (or the body when there is none).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(fields))
            .send()
            .await
            .unwrap();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let status = r.status();
        let body = r.text().await.unwrap();
        (status, if location.is_empty() { body } else { location })
    }

    /// A CSRF token of this session (from the account page).
    pub async fn csrf(&self) -> String {
        csrf_of(&self.get("/ui/account").await.1)
    }
}
