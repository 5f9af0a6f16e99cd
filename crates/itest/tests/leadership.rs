//! Leadership by cluster lock on a real 3-node ctdb-rs cluster: failover
//! when the leader dies, stepping down when the lock file goes away,
//! repeated `ctdb recover`, and a late joiner.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ctdb_itest::{debian_ctdb, wait_for, Cluster, LeaderWatch};

/// The leader as every node in `nodes` hears it, if they agree.
fn agreed_leader(c: &Cluster, nodes: &[u32]) -> Option<u32> {
    let views: Vec<Option<u32>> = nodes.iter().map(|&p| c.leader(p)).collect();
    let first = (*views.first()?)?;
    views.iter().all(|v| *v == Some(first)).then_some(first)
}

#[test]
fn killing_the_leader_elects_a_new_one_everywhere() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 17, 1), &[]).unwrap();
    let old = agreed_leader(&c, &[0, 1, 2]).expect("one leader");
    let old_gen = c.agreed_generation(&[0, 1, 2]).unwrap();
    let rest: Vec<u32> = (0..3).filter(|&p| p != old).collect();
    let watch = LeaderWatch::new(&c, &rest).unwrap();
    let t0 = Instant::now();
    c.kill9(old).unwrap();
    eprintln!("kill -9 of node {old} took effect after {:?}", t0.elapsed());
    // leader timeout (2 s) plus taking the lock bounds it; losing the link
    // to the leader starts the race at once, so it is usually far less.
    let new = watch.wait(Duration::from_secs(2 + 3), |l| l != old).unwrap();
    let elected = t0.elapsed();
    wait_for(Duration::from_secs(5), "survivors recovered to a new generation", || {
        c.agreed_generation(&rest).is_some_and(|g| g != old_gen)
    })
    .unwrap();
    eprintln!("leader {old} killed: node {new} leads after {elected:?}; recovered after {:?}", t0.elapsed());
}

#[test]
fn removing_the_lock_file_makes_the_leader_step_down() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 18, 1), &[]).unwrap();
    let leader = agreed_leader(&c, &[0, 1, 2]).expect("one leader");
    let watch = LeaderWatch::new(&c, &[0, 1, 2]).unwrap();
    let t0 = Instant::now();
    std::fs::remove_file(c.dir().join("shared/cluster.lock")).unwrap();
    // The fcntl helper re-checks every 5 s.
    // Within one recheck interval (5 s); the slack is for a loaded CI machine.
    wait_for(Duration::from_secs(5 + 2), "the leader to notice the lost lock", || {
        c.log(leader).contains("Cluster lock lost")
    })
    .unwrap();
    let stepped_down = t0.elapsed();
    assert!(c.log(leader).contains("Stepping down as leader: cluster lock lost"));
    let new = watch.wait(Duration::from_secs(10), |_| true).unwrap();
    assert!(c.dir().join("shared/cluster.lock").exists(), "the new leader holds a new lock file");
    eprintln!(
        "lock file removed: leader {leader} stepped down after {stepped_down:?}; node {new} leads after {:?}",
        t0.elapsed()
    );
}

#[test]
fn recover_twenty_times_ends_normal_at_one_generation_and_a_late_joiner_is_welcome() {
    let samba = debian_ctdb().expect("Debian's /usr/bin/ctdb is missing: the README test command installs it");
    let c = Cluster::setup(3, Ipv4Addr::new(127, 0, 19, 1), &[]).unwrap();
    c.local(&["start", "0"]).unwrap();
    c.local(&["start", "1"]).unwrap();
    wait_for(Duration::from_secs(20), "nodes 0 and 1 recovered", || c.agreed_generation(&[0, 1]).is_some()).unwrap();

    // Node 2 joins a running cluster.
    c.local(&["start", "2"]).unwrap();
    c.wait_ready(Duration::from_secs(20)).unwrap();
    for by in 0..3 {
        assert_eq!(c.flags(by, 2), Some(0), "late joiner not banned or otherwise flagged on node {by}");
    }

    let mut generations = Vec::new();
    for i in 0..20 {
        let out = c.run_ctdb(&samba, (i % 3) as u32, &["recover"]);
        assert!(out.status.success(), "recover #{i}: {}", String::from_utf8_lossy(&out.stderr));
        generations.push(c.agreed_generation(&[0, 1, 2]));
    }
    let g = c.agreed_generation(&[0, 1, 2]).expect("normal mode, one generation");
    generations.dedup();
    assert!(generations.len() >= 2, "recoveries change the generation: {generations:?}");
    eprintln!("20 recoveries: final generation {g}");
}

#[test]
fn a_wedged_leader_loses_the_lock_to_the_others() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 25, 1), &["KeepaliveInterval=1", "KeepaliveLimit=2"]).unwrap();
    let old = agreed_leader(&c, &[0, 1, 2]).expect("one leader");
    let rest: Vec<u32> = (0..3).filter(|&p| p != old).collect();
    let watch = LeaderWatch::new(&c, &rest).unwrap();
    let pid = nix::unistd::Pid::from_raw(c.pid(old).unwrap());
    let t0 = Instant::now();
    // Frozen, not dead: its lock helper lives on, but the pings from the
    // daemon's loop stop, so the helper gives the lock up (10 s).
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let new = watch.wait(Duration::from_secs(10 + 5), |l| l != old);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let new = new.unwrap();
    eprintln!("leader {old} frozen: node {new} leads after {:?}", t0.elapsed());
    // Thawed, the old leader learns it lost the lock and follows.
    wait_for(Duration::from_secs(15), "all nodes agree again", || agreed_leader(&c, &[0, 1, 2]) == Some(new)).unwrap();
}
