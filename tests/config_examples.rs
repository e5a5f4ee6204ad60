//! Every configuration file shown in the README and the documentation loads as shown: a fenced
//! block, or a shell here-document, with a `database =` line is parsed exactly as written.
//!
//! This is what keeps documentation and parser from disagreeing again (the README's own example
//! once failed on its trailing comments).

use std::path::{Path, PathBuf};

use vmailsql::Config;

/// The pages that document the configuration file.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md"), root.join("exim/README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages
}

/// Where the scanner is in a page.
enum State {
    Prose,
    /// Inside a fenced block; `shell` once a here-document showed it is a script.
    Fence {
        start: usize,
        text: String,
        shell: bool,
    },
    /// Inside a shell here-document (`cat > file <<'EOF'`), fenced or indented.
    Heredoc {
        start: usize,
        text: String,
        end: String,
        in_fence: bool,
    },
}

/// The here-document terminator a line opens, if any.
fn heredoc_end(line: &str) -> Option<String> {
    let after = line.split("<<").nth(1)?.trim();
    let end = after.trim_matches(|c| c == '\'' || c == '"');
    (!end.is_empty() && end.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then(|| end.to_string())
}

/// Every fenced block and here-document of a page: (first line number, text).
fn blocks(page: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut state = State::Prose;
    for (number, line) in page.lines().enumerate() {
        let trimmed = line.trim();
        let next = number + 2;
        state = match state {
            State::Prose if trimmed.starts_with("```") => State::Fence {
                start: next,
                text: String::new(),
                shell: false,
            },
            State::Prose => match heredoc_end(trimmed) {
                Some(end) => State::Heredoc {
                    start: next,
                    text: String::new(),
                    end,
                    in_fence: false,
                },
                None => State::Prose,
            },
            State::Fence { start, text, shell } if trimmed.starts_with("```") => {
                if !shell {
                    found.push((start, text));
                }
                State::Prose
            }
            State::Fence {
                start,
                mut text,
                shell,
            } => match heredoc_end(trimmed) {
                Some(end) => State::Heredoc {
                    start: next,
                    text: String::new(),
                    end,
                    in_fence: true,
                },
                None => {
                    text.push_str(trimmed);
                    text.push('\n');
                    State::Fence { start, text, shell }
                }
            },
            State::Heredoc {
                start,
                text,
                end,
                in_fence,
            } if trimmed == end => {
                found.push((start, text));
                match in_fence {
                    true => State::Fence {
                        start: next,
                        text: String::new(),
                        shell: true,
                    },
                    false => State::Prose,
                }
            }
            State::Heredoc {
                start,
                mut text,
                end,
                in_fence,
            } => {
                text.push_str(trimmed);
                text.push('\n');
                State::Heredoc {
                    start,
                    text,
                    end,
                    in_fence,
                }
            }
        };
    }
    found
}

/// The blocks of a page that are configuration files: those with a `database =` line.
fn config_blocks(page: &str) -> Vec<(usize, String)> {
    blocks(page)
        .into_iter()
        .filter(|(_, text)| {
            text.lines().any(|l| {
                l.split_once('=')
                    .is_some_and(|(key, _)| key.trim() == "database")
            })
        })
        .collect()
}

#[test]
fn every_documented_configuration_loads() {
    let mut seen = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (line, block) in config_blocks(&text) {
            let origin = format!("{} block at line {line}", page.display());
            let config = Config::parse(&block, &origin).unwrap_or_else(|e| panic!("{e}"));
            for url in &config.databases {
                assert!(
                    url.starts_with("mysql://") || url.starts_with("sqlite:"),
                    "{origin}: {url:?} is not a database URL"
                );
            }
            seen += 1;
        }
    }
    assert!(seen >= 2, "found only {seen} configuration examples");
}

#[test]
fn the_readme_example_keeps_its_values() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let blocks = config_blocks(&readme.unwrap());
    let (_, text) = blocks
        .iter()
        .find(|(_, b)| b.contains("# /etc/vmailsql.conf"))
        .expect("the README shows /etc/vmailsql.conf");
    let config = Config::parse(text, "README").unwrap();
    assert_eq!(config.databases.len(), 1, "a trailing comment is not a URL");
    assert_eq!(config.connect_timeout.as_secs(), 5);
    assert_eq!(config.session_lifetime.as_secs(), 1800);
}
