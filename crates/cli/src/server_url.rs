//! The hub's address as every subcommand reads it, from `SERVER` or `TRACETAIL_SERVER`: a
//! URL, or `host:port` or `host` alone, which mean `http://`. One parser, so `send`, `tail`,
//! `query` and `demo` accept the same text.

use reqwest::Url;

/// The server as a URL text with a scheme: `http://` put in front of a server given without
/// one, then checked to be an http URL (the client has no TLS yet). Used as clap's value
/// parser, so a bad server is a usage error naming the argument.
pub(crate) fn parse_server(text: &str) -> Result<String, String> {
    let text = text.trim();
    let url_text = if text.contains("://") {
        text.to_string()
    } else {
        format!("http://{text}")
    };
    let url = Url::parse(&url_text).map_err(|error| format!("{error} in {url_text:?}"))?;
    match url.scheme() {
        "http" => {}
        // TODO(#3): TLS for hubs behind an HTTPS proxy (reqwest with rustls on aws-lc-rs).
        "https" => {
            return Err("https:// is not supported yet: give the hub's http:// address".into());
        }
        scheme => return Err(format!("scheme {scheme:?} is not http")),
    }
    Ok(url_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_or_host_alone_mean_http_and_urls_pass_through() {
        let parsed = |text| parse_server(text).expect("valid server");
        assert_eq!(parsed("127.0.0.1:4318"), "http://127.0.0.1:4318");
        assert_eq!(parsed("localhost:4318"), "http://localhost:4318");
        assert_eq!(parsed("hub.internal"), "http://hub.internal");
        assert_eq!(parsed("http://h:1/base"), "http://h:1/base");
    }

    #[test]
    fn other_schemes_and_non_urls_are_refused() {
        let error = parse_server("ftp://h").expect_err("scheme");
        assert!(error.contains("\"ftp\""), "{error}");
        let error = parse_server("https://hub").expect_err("no TLS");
        assert!(error.contains("https:// is not supported"), "{error}");
        assert!(parse_server("http://").is_err());
        assert!(parse_server("host:port:x").is_err());
    }
}
