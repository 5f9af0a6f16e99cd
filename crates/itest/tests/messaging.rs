//! Cluster-wide messages: to one node and to all nodes, received exactly by
//! the registered clients, exactly once; registrations die with the client.

use std::net::Ipv4Addr;
use std::time::Duration;

use ctdb_client::Client;
use ctdb_itest::{block_on, Cluster};
use ctdb_legacy_proto::pnn;

const T: Duration = Duration::from_secs(5);

async fn next(c: &Client) -> (u64, Vec<u8>) {
    let m = tokio::time::timeout(T, c.next_message()).await.expect("message within 5 s").expect("connection open");
    (m.srvid, m.data)
}

#[test]
fn messages_reach_exactly_the_registered_clients_once() {
    let c = Cluster::start(3, Ipv4Addr::new(127, 0, 12, 1), &[]).unwrap();
    block_on(async {
        let sender = Client::connect(&c.socket(0)).await.unwrap();
        let on2 = Client::connect(&c.socket(2)).await.unwrap();
        let other2 = Client::connect(&c.socket(2)).await.unwrap();
        let on1 = Client::connect(&c.socket(1)).await.unwrap();
        let on0 = Client::connect(&c.socket(0)).await.unwrap();
        const X: u64 = 0x00AA_0000_0000_0001;
        const ALLSRV: u64 = 0x00AA_0000_0000_0002;
        const MARK: u64 = 0x00AA_0000_0000_0003;
        on2.register_srvid(X).await.unwrap();
        for cl in [&on0, &on1, &on2, &other2] {
            cl.register_srvid(ALLSRV).await.unwrap();
            cl.register_srvid(MARK).await.unwrap();
        }

        // To node 2 only.
        sender.send_message(2, X, b"to-two".to_vec()).await.unwrap();
        // To all nodes.
        sender.send_message(pnn::BROADCAST_CONNECTED, ALLSRV, b"to-all".to_vec()).await.unwrap();
        // A marker after both: per-sender order is kept, so the marker
        // arriving next proves no duplicate came in between.
        sender.send_message(pnn::BROADCAST_CONNECTED, MARK, b"end".to_vec()).await.unwrap();

        assert_eq!(next(&on2).await, (X, b"to-two".to_vec()));
        for cl in [&on2, &other2, &on1, &on0] {
            assert_eq!(next(cl).await, (ALLSRV, b"to-all".to_vec()));
            assert_eq!(next(cl).await, (MARK, b"end".to_vec()));
        }

        // A registration dies with its client: after on2 disconnects, a
        // message to X on node 2 reaches nobody, and other2 is unaffected.
        drop(on2);
        let check = Client::connect(&c.socket(2)).await.unwrap();
        check.register_srvid(MARK).await.unwrap();
        sender.send_message(2, X, b"nobody".to_vec()).await.unwrap();
        sender.send_message(2, MARK, b"end2".to_vec()).await.unwrap();
        assert_eq!(next(&check).await, (MARK, b"end2".to_vec()));
        assert_eq!(next(&other2).await, (MARK, b"end2".to_vec()));
    });
}
