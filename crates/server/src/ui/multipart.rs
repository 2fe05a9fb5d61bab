//! `multipart/form-data` forms of the UI (list uploads, provider statements), read with
//! `multer` from a body that is already in memory and bounded by the route's body limit.

use axum::body::Bytes;

/// Most parts a UI form may have (the forms have a handful of fields).
const MAX_PARTS: usize = 16;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The field name.
    pub name: String,
    /// The file name, for a file field.
    pub filename: Option<String>,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Whether the request's content type is `multipart/form-data`.
pub fn is_multipart(content_type: &str) -> bool {
    multer::parse_boundary(content_type).is_ok()
}

/// Reads every part of a `multipart/form-data` body; the error says what is wrong.
pub async fn parse(content_type: &str, body: Bytes) -> Result<Vec<Part>, String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| e.to_string())? {
        if parts.len() == MAX_PARTS {
            return Err(format!("more than {MAX_PARTS} form fields"));
        }
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(|e| e.to_string())?.to_vec();
        parts.push(Part {
            name,
            filename,
            data,
        });
    }
    Ok(parts)
}

/// The text of the first part called `name` (empty when missing).
pub fn text(parts: &[Part], name: &str) -> String {
    parts
        .iter()
        .find(|p| p.name == name)
        .map(|p| String::from_utf8_lossy(&p.data).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=XyZ";

    #[tokio::test]
    async fn reads_text_and_file_fields() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
                    Content-Type: text/plain\r\n\r\nline1\r\nline2\r\n--XyZ--\r\n";
        let parts = parse(CT, Bytes::from(body)).await.unwrap();
        assert_eq!(text(&parts, "csrf"), "tok");
        assert_eq!(parts[1].filename.as_deref(), Some("a.txt"));
        assert_eq!(parts[1].data, b"line1\r\nline2");
        assert_eq!(text(&parts, "missing"), "");
    }

    #[tokio::test]
    async fn refuses_broken_bodies_and_other_types() {
        assert!(!is_multipart("application/x-www-form-urlencoded"));
        assert!(is_multipart(CT));
        let truncated = "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok";
        assert!(parse(CT, Bytes::from(truncated)).await.is_err());
        let many: String = (0..=MAX_PARTS)
            .map(|i| format!("--XyZ\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n"))
            .collect::<String>()
            + "--XyZ--\r\n";
        assert!(parse(CT, Bytes::from(many)).await.is_err());
    }
}
