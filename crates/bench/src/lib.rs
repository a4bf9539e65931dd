//! The benchmarks' shared parts: an HTTP/2 apiserver client, the processes
//! a benchmark owns (etcd, kube-apiserver, ...), load generation, CPU and
//! memory sampling, and report writing. One binary per target:
//! `apiserver-bench` (src/main.rs), `scheduler-bench`, `proxy-bench`,
//! `pod-startup-bench` and `controllers-bench` (src/bin/); docs/bench/README.md
//! says what each measures.

pub mod api;
pub mod client;
pub mod cluster;
pub mod cpu;
pub mod dns_echo;
pub mod etcd_metrics;
pub mod load;
pub mod object;
pub mod probe;
pub mod procs;
pub mod raw_etcd;
pub mod report;
pub mod svc_model;
pub mod watch;
