//! `kubectl`: parse the command line, run it, exit with its code.

fn main() {
    // One thread: kubectl does one thing at a time and starts faster so.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            std::process::exit(1);
        }
    };
    if std::env::var_os("KUBECTL_RS_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("KUBECTL_RS_LOG"))
            .with_writer(std::io::stderr)
            .init();
    }
    let code = rt.block_on(kubectl::run(std::env::args().collect()));
    std::process::exit(code);
}
