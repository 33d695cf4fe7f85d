use corelane::{io, sched::{Idle, Runtime}};
use std::io::{Read, Write};

#[test]
fn echo_smoke() {
    if let Err(why) = io::probe() { eprintln!("skipped: {why}"); return; }
    let rt = Runtime::builder().cores([0]).pin(false).idle(Idle::Park).build().unwrap();
    let server = io::Server::builder("127.0.0.1:0".parse().unwrap())
        .serve(&rt, |mut s: io::TcpStream| async move {
            while let Ok(Some(b)) = s.recv().await {
                if s.send(b).await.is_err() { break; }
            }
        }).unwrap();
    let mut c = std::net::TcpStream::connect(server.local_addr()).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    eprintln!("{:?}", rt.stats().cores[0].io);
    for i in 0..100u32 {
        let msg = vec![i as u8; 1 + (i as usize * 37) % 9000];
        c.write_all(&msg).unwrap();
        let mut got = vec![0; msg.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, msg);
    }
    println!("{:?}", rt.stats().cores[0].io);
}
