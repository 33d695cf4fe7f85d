// The control for the compile-fail cases: with a `Send` item every handle
// crosses threads, and the "many" sides clone.
use corelane::queue::{mpmc, mpsc, spmc, spsc};

fn main() {
    let (tx, rx) = spsc::channel::<u8>(4);
    std::thread::spawn(move || drop((tx, rx))).join().unwrap();
    let (tx, rx) = mpsc::channel::<u8>(4);
    std::thread::spawn(move || drop((tx.clone(), tx, rx)))
        .join()
        .unwrap();
    let (tx, rx) = spmc::channel::<u8>(4);
    std::thread::spawn(move || drop((tx, rx.clone(), rx)))
        .join()
        .unwrap();
    let (tx, rx) = mpmc::channel::<u8>(4);
    std::thread::spawn(move || drop((tx.clone(), tx, rx.clone(), rx)))
        .join()
        .unwrap();
}
