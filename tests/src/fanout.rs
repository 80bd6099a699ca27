//! Sites too big to generate up front, made up per request: the shapes that
//! fill a frontier.
//!
//! * [`Shape::Fanout`]: `/f/N` links to `links` new pages
//!   `/f/(N*links+1)` … `/f/(N*links+links)`: after a thousand pages of a
//!   thousand links, a million URLs are queued.
//! * [`Shape::LongUrls`]: `/` links to `pages` pages `/l/N`, each with
//!   `links` short relative links under a `<base href>` of `base_len` bytes:
//!   every link resolves to a URL of about `base_len` bytes.
//!
//! A plain HTTP/1.1 server with keep-alive, a thread per connection, on
//! 127.0.0.1; anything else is a 404.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

/// What the server makes up.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// Every page links to `links` new pages.
    Fanout { links: usize },
    /// `pages` pages of `links` links resolving to `base_len`-byte URLs.
    LongUrls {
        pages: usize,
        links: usize,
        base_len: usize,
    },
}

/// Serve `shape` on a free port of 127.0.0.1 for the rest of the process;
/// returns the seed URL.
pub fn serve(shape: Shape) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("local addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = connection(stream, shape);
            });
        }
    });
    match shape {
        Shape::Fanout { .. } => format!("http://127.0.0.1:{port}/f/0"),
        Shape::LongUrls { .. } => format!("http://127.0.0.1:{port}/"),
    }
}

fn connection(stream: TcpStream, shape: Shape) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        // Skip the headers (requests have no body).
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" {
                break;
            }
        }
        let (status, body) = match page(shape, &path) {
            Some(body) => ("200 OK", body),
            None => ("404 Not Found", String::from("not found")),
        };
        write!(
            writer,
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        writer.write_all(body.as_bytes())?;
    }
}

fn page(shape: Shape, path: &str) -> Option<String> {
    let mut out = String::from("<!doctype html><html><head><title>t</title>");
    match shape {
        Shape::Fanout { links } => {
            let n: usize = path.strip_prefix("/f/")?.parse().ok()?;
            out.push_str("</head><body>");
            for i in 1..=links {
                let _ = write!(out, "<a href=\"/f/{}\">.</a>", n * links + i);
            }
        }
        Shape::LongUrls {
            pages,
            links,
            base_len,
        } => {
            if path == "/" {
                out.push_str("</head><body>");
                for n in 0..pages {
                    let _ = write!(out, "<a href=\"/l/{n}\">.</a>");
                }
            } else {
                let n: usize = path.strip_prefix("/l/")?.parse().ok()?;
                if n >= pages {
                    return None;
                }
                let _ = write!(
                    out,
                    "<base href=\"/{}/\"></head><body>",
                    "x".repeat(base_len)
                );
                for i in 0..links {
                    let _ = write!(out, "<a href=\"{n}-{i}\">.</a>");
                }
            }
        }
    }
    out.push_str("</body></html>");
    Some(out)
}
