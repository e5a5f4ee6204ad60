//! Following mail through local forwarders: targets that go nowhere, and forwarding loops.
//!
//! Every step is the library's own resolution, so the check agrees with what Exim does; each
//! local address is resolved once.

use std::collections::{BTreeSet, HashMap};

use vmailsql::{address, ErrorKind, Resolution, Vmail, CATCH_ALL};

use super::{Finding, Site};
use crate::exit::Outcome;
use crate::progress::Progress;

/// Where one local address leads.
#[derive(Clone)]
enum Hop {
    /// Redirected to these local addresses (remote targets end the walk).
    Forward(Vec<String>),
    /// Delivered, or leaves the site.
    End,
    /// Nothing answers for it: Exim bounces it.
    Nowhere,
}

struct Router<'a> {
    vmail: &'a Vmail,
    site: &'a Site,
    hops: HashMap<String, Hop>,
}

impl Router<'_> {
    /// A local target under its real domain (an alias address and the address it stands for
    /// are one step of the same path), or `None` for a remote or malformed one.
    fn local(&self, target: &str) -> Option<String> {
        let (local, domain) = address::split_address(target).ok()?;
        let real = self.site.real_domain(&domain)?;
        Some(format!("{local}@{real}"))
    }

    fn hop(&mut self, addr: &str) -> Outcome<Hop> {
        if let Some(hop) = self.hops.get(addr) {
            return Ok(hop.clone());
        }
        let hop = match self.vmail.resolve(addr) {
            Ok(Resolution::Forward { targets, .. }) => {
                Hop::Forward(targets.iter().filter_map(|t| self.local(t)).collect())
            }
            Ok(Resolution::Mailbox(_)) => Hop::End,
            Err(e) if e.kind() == ErrorKind::NotFound => Hop::Nowhere,
            // Unsafe stored data (a mailbox path, a pipe or file target: `Internal` from
            // resolve) is reported by the row checks; the walk stops there.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::InvalidInput | ErrorKind::Internal | ErrorKind::UnsafeData
                ) =>
            {
                Hop::End
            }
            Err(e) => return Err(e.into()),
        };
        self.hops.insert(addr.to_string(), hop.clone());
        Ok(hop)
    }

    fn next(&mut self, addr: &str) -> Outcome<Vec<String>> {
        Ok(match self.hop(addr)? {
            Hop::Forward(next) => next,
            Hop::End | Hop::Nowhere => Vec::new(),
        })
    }
}

pub fn findings(vmail: &Vmail, site: &Site) -> Outcome<Vec<Finding>> {
    let mut router = Router {
        vmail,
        site,
        hops: HashMap::new(),
    };
    let mut found = Vec::new();
    let mut starts = Vec::new();
    let mut progress = Progress::new("check", site.forwarders.len());
    for f in &site.forwarders {
        progress.step();
        if f.local_part != CATCH_ALL {
            starts.push(format!("{}@{}", f.local_part, f.domain).to_lowercase());
        }
        for target in address::parse_remote_list(&f.remote_name) {
            let Some(local) = router.local(&target) else {
                continue;
            };
            if matches!(router.hop(&local)?, Hop::Nowhere) {
                let from = if f.local_part == CATCH_ALL {
                    format!("catch-all of {}", f.domain)
                } else {
                    format!("forwarder {}@{}", f.local_part, f.domain)
                };
                found.push(Finding::problem(
                    "dead-target",
                    format!("{from}: {target} goes nowhere (no forwarder, popbox or catch-all)"),
                ));
            }
            starts.push(local);
        }
    }
    drop(progress);
    for cycle in loops(&mut router, &starts)? {
        found.push(Finding::problem(
            "loop",
            format!("{} -> {}", cycle.join(" -> "), cycle[0]),
        ));
    }
    Ok(found)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    OnPath,
    Done,
}

/// Every forwarding cycle reachable from `starts`, each once, rotated to start at its smallest
/// address. Depth-first with an explicit stack: a long chain must not overflow the real one.
fn loops(router: &mut Router, starts: &[String]) -> Outcome<BTreeSet<Vec<String>>> {
    let mut cycles = BTreeSet::new();
    let mut seen: HashMap<String, Visit> = HashMap::new();
    for start in starts {
        if seen.contains_key(start) {
            continue;
        }
        seen.insert(start.clone(), Visit::OnPath);
        let mut path = vec![(start.clone(), router.next(start)?, 0usize)];
        while let Some((_, next, i)) = path.last_mut() {
            let Some(child) = next.get(*i).cloned() else {
                let (done, ..) = path.pop().expect("path is not empty");
                seen.insert(done, Visit::Done);
                continue;
            };
            *i += 1;
            match seen.get(&child) {
                None => {
                    seen.insert(child.clone(), Visit::OnPath);
                    let after = router.next(&child)?;
                    path.push((child, after, 0));
                }
                Some(Visit::OnPath) => {
                    let at = path.iter().position(|(a, ..)| *a == child).unwrap_or(0);
                    cycles.insert(rotated(
                        path[at..].iter().map(|(a, ..)| a.clone()).collect(),
                    ));
                }
                Some(Visit::Done) => {}
            }
        }
    }
    Ok(cycles)
}

fn rotated(mut cycle: Vec<String>) -> Vec<String> {
    let smallest = (0..cycle.len()).min_by_key(|&i| &cycle[i]).unwrap_or(0);
    cycle.rotate_left(smallest);
    cycle
}

#[cfg(test)]
mod tests {
    use super::rotated;

    #[test]
    fn cycles_are_rotated_to_one_form() {
        let a = rotated(vec!["b@x".into(), "c@x".into(), "a@x".into()]);
        let b = rotated(vec!["a@x".into(), "b@x".into(), "c@x".into()]);
        assert_eq!(a, b);
        assert_eq!(a[0], "a@x");
    }
}
