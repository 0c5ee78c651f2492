//! The web client: a page, a script and a style sheet (`web/` beside `src/`), compiled into
//! the binary and served at `/`, `/app.js` and `/style.css`.
//!
//! The files are static, so any static host can serve them too; only the page's
//! `<meta name="quiz-stage">` is filled in here, so that the page connects to this server's
//! own stage unless its address says `?server=wss://…/{stage}`. Stage names have no `.`, so
//! these paths never collide with a stage's.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const STYLE_CSS: &str = include_str!("../web/style.css");

/// The empty stage in `index.html`, replaced by the serving stage.
const STAGE_PLACEHOLDER: &str = r#"<meta name="quiz-stage" content="">"#;

/// Where the page may connect: its own files, and WebSockets to any server (`?server=`).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self' ws: wss:; \
     img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page, set to connect to `stage` on the host it is served from. `stage` is a valid
/// stage name (letters, digits, `-`, `_`), so it needs no escaping.
pub fn index(stage: &str) -> Response {
    let page = INDEX_HTML.replacen(
        STAGE_PLACEHOLDER,
        &format!(r#"<meta name="quiz-stage" content="{stage}">"#),
        1,
    );
    file(page, "text/html; charset=utf-8")
}

/// `GET /app.js`.
pub async fn script() -> Response {
    file(APP_JS.to_owned(), "text/javascript; charset=utf-8")
}

/// `GET /style.css`.
pub async fn style() -> Response {
    file(STYLE_CSS.to_owned(), "text/css; charset=utf-8")
}

fn file(body: String, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // A rebuilt quiz-local serves new files under the same names.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("an in-memory body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    }

    #[tokio::test]
    async fn the_page_names_the_serving_stage_once() {
        let response = index("prod");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let page = body(response).await;
        assert_eq!(
            page.matches(r#"<meta name="quiz-stage" content="prod">"#)
                .count(),
            1
        );
        assert!(
            !page.contains(STAGE_PLACEHOLDER),
            "the empty stage is left in"
        );
    }

    #[tokio::test]
    async fn the_page_loads_the_files_served_beside_it() {
        let page = body(index("dev")).await;
        assert!(page.contains(r#"src="app.js""#));
        assert!(page.contains(r#"href="style.css""#));
        assert!(body(script().await).await.contains("WebSocket"));
        assert!(body(style().await).await.contains(".consonant"));
    }
}
