//! A small `multipart/form-data` reader for the list upload form (RFC 7578): the whole body is
//! already in memory (bounded by the list size limit), so the parts are slices of it. Only
//! what browsers send is supported: one boundary, `Content-Disposition: form-data; name=…`
//! with an optional `filename`, no nested multiparts.

/// One part of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Field name.
    pub name: String,
    /// File name, for file fields.
    pub filename: Option<String>,
    /// The bytes.
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("boundary") {
            let v = v.trim().trim_matches('"');
            (!v.is_empty() && v.len() <= 70).then(|| v.to_string())
        } else {
            None
        }
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// A parameter (`name="x"`) of a `Content-Disposition` header value.
fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Splits a body into its parts; `Err` says what is malformed.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut pos = find(body, delim, 0).ok_or("no multipart boundary in the body")? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err("malformed multipart boundary line".into());
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos).ok_or("multipart part without headers")?;
        let head = std::str::from_utf8(&body[pos..head_end])
            .map_err(|_| "multipart headers are not UTF-8")?;
        let mut name = None;
        let mut filename = None;
        for line in head.split("\r\n") {
            if let Some((k, v)) = line.split_once(':')
                && k.trim().eq_ignore_ascii_case("content-disposition")
            {
                name = param(v, "name");
                filename = param(v, "filename");
            }
        }
        let data_start = head_end + 4;
        let mut end_marker = b"\r\n".to_vec();
        end_marker.extend_from_slice(delim);
        let data_end = find(body, &end_marker, data_start).ok_or("unterminated multipart part")?;
        parts.push(Part {
            name: name.ok_or("multipart part without a name")?,
            filename,
            data: body[data_start..data_end].to_vec(),
        });
        pos = data_end + end_marker.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_a_file_with_crlf_inside() {
        let ct = "multipart/form-data; boundary=----abc";
        let b = boundary(ct).unwrap();
        let body = "------abc\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n\
             ------abc\r\nContent-Disposition: form-data; name=\"file\"; filename=\"l.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nline1\r\nline2\r\n\r\n------abc--\r\n";
        let parts = parse(body.as_bytes(), &b).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "csrf");
        assert_eq!(parts[0].data, b"tok");
        assert_eq!(parts[1].filename.as_deref(), Some("l.txt"));
        assert_eq!(parts[1].data, b"line1\r\nline2\r\n");
    }

    #[test]
    fn refuses_what_is_not_multipart() {
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert!(parse(b"no boundary here", "x").is_err());
        assert!(
            parse(
                b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nopen",
                "x"
            )
            .is_err()
        );
    }
}
