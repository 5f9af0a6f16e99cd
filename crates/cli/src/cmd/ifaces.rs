//! `ctdb ifaces`: the asked node's public-address interfaces, their links
//! and how many addresses each carries (GET_IFACES).

use serde::Serialize;

use super::{usage, Ctx};
use crate::error::CliError;
use crate::render::{Render, RenderCx, Reply};
use crate::session::{Link, Session};

/// `ctdb ifaces`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ifaces {
    /// The asked node.
    pub node: u32,
    /// Its interfaces, in the daemon's order.
    pub interfaces: Vec<IfaceState>,
}

/// One interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IfaceState {
    /// Name.
    pub name: String,
    /// Link state as sent (1 up, 0 down).
    pub link_state: u16,
    /// Public addresses on it.
    pub references: u32,
}

impl Ifaces {
    /// A node without public addresses has no interfaces; both forms say
    /// so in words.
    fn none_line(&self) -> Option<String> {
        self.interfaces.is_empty().then(|| format!("No interfaces configured on node {}\n", self.node))
    }
}

impl Render for Ifaces {
    fn text(&self, _cx: &RenderCx) -> String {
        if let Some(line) = self.none_line() {
            return line;
        }
        let mut out = format!("Interfaces on node {}\n", self.node);
        for i in &self.interfaces {
            let link = if i.link_state != 0 { "up" } else { "down" };
            out.push_str(&format!("name:{} link:{link} references:{}\n", i.name, i.references));
        }
        out
    }

    fn machine(&self, cx: &RenderCx) -> String {
        if let Some(line) = self.none_line() {
            return line;
        }
        let mut out = cx.row(["Name", "LinkStatus", "References"]);
        for i in &self.interfaces {
            out.push_str(&cx.row([i.name.clone(), i.link_state.to_string(), i.references.to_string()]));
        }
        out
    }
}

/// Runs the command.
pub async fn run<L: Link>(session: &mut Session<L>, cx: &Ctx, args: &[String]) -> Result<Reply, CliError> {
    if !args.is_empty() {
        return Err(usage("ifaces"));
    }
    let node = session.target();
    let list = session.ifaces_of(node).await?;
    let interfaces = list
        .ifaces
        .into_iter()
        .map(|i| IfaceState { name: i.name, link_state: i.link_state, references: i.references })
        .collect();
    Ok(cx.reply(&Ifaces { node, interfaces }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::Zone;

    #[test]
    fn text_machine_and_none() {
        let cx = RenderCx::new(Zone::Utc);
        let r = Ifaces {
            node: 0,
            interfaces: vec![
                IfaceState { name: "ifb0".into(), link_state: 1, references: 0 },
                IfaceState { name: "lo".into(), link_state: 0, references: 2 },
            ],
        };
        assert_eq!(
            r.text(&cx),
            "Interfaces on node 0\nname:ifb0 link:up references:0\nname:lo link:down references:2\n"
        );
        assert_eq!(r.machine(&cx), "|Name|LinkStatus|References|\n|ifb0|1|0|\n|lo|0|2|\n");
        let none = Ifaces { node: 2, interfaces: Vec::new() };
        assert_eq!(none.text(&cx), "No interfaces configured on node 2\n");
        assert_eq!(none.machine(&cx), none.text(&cx));
    }
}
