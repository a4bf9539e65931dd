//! The benchmarks' shared parts: an HTTP/2 apiserver client, the processes
//! a benchmark owns (etcd, kube-apiserver, ...), load generation, CPU and
//! memory sampling, and report writing. One binary per target:
//! `apiserver-bench` (src/main.rs) and `scheduler-bench`
//! (src/bin/scheduler-bench.rs).

pub mod api;
pub mod client;
pub mod cpu;
pub mod etcd_metrics;
pub mod load;
pub mod object;
pub mod probe;
pub mod procs;
pub mod raw_etcd;
pub mod report;
pub mod watch;
