//! A load of what `/graphql` refuses, sent by an anonymous attacker from 8 connections at once: 500
//! aliases of `orders(first: 100)`, a 50-deep query, 20 aliases of a session's catalogue, a 5 MB
//! body, and orders asked without a token. Prints the server process's resident memory after a warm-up
//! round and its peak over the rounds that follow: refusals must cost no memory that stays, so the
//! peak stays where the warm-up left it.
//!
//! `cargo bench --bench refusals` (set `ORDERHUB_REFUSAL_ROUNDS` for other than 50 rounds).

#![expect(clippy::print_stdout, reason = "a load scenario prints its figures")]

use std::time::Instant;

use futures::future::join_all;
use serde_json::json;

/// Resident and peak resident memory of the server process, in MiB (Linux).
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Forgets the peak so far (Linux 4.0+: writing 5 to clear_refs resets VmHWM).
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// `orderhub serve` on a fresh SQLite file, as production runs it; its address from its log.
fn serve(dir: &std::path::Path) -> anyhow::Result<(std::process::Child, String)> {
    use std::io::BufRead;
    let config = dir.join("orderhub.toml");
    std::fs::write(
        &config,
        format!("listen = \"127.0.0.1:0\"\ndatabase_url = \"sqlite://{}\"\n", dir.join("orderhub.db").display()),
    )?;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_orderhub"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("ORDERHUB_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env_remove("DATABASE_URL")
        .env_remove("ORDERHUB_LISTEN")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let stderr = child.stderr.take().ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let mut lines = std::io::BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().ok_or_else(|| anyhow::anyhow!("orderhub serve ended"))??;
        if line.contains("orderhub listening") {
            let log: serde_json::Value = serde_json::from_str(&line)?;
            break log["fields"]["address"].as_str().unwrap_or_default().to_owned();
        }
    };
    // Keep reading so that the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Ok((child, address))
}

fn attacks() -> Vec<(&'static str, String, &'static str)> {
    let aliases: String =
        (0..500).map(|i| format!("o{i}: orders(first: 100) {{ items {{ id lines {{ name }} }} }} ")).collect();
    let deep = format!("{{ {}id{} }}", "enterprises { ".repeat(50), " }".repeat(50));
    let catalogues: String = (0..20).map(|i| format!("c{i}: catalogue {{ offers {{ id }} }} ")).collect();
    vec![
        ("500 aliases of orders(first: 100)", json!({"query": format!("{{ {aliases} }}")}).to_string(), "application/json"),
        ("a 50-deep query", json!({"query": deep}).to_string(), "application/json"),
        (
            "20 aliases of a catalogue",
            json!({"query": format!("{{ salesSession(id: \"00000000-0000-0000-0000-000000000000\") {{ {catalogues} }} }}")})
                .to_string(),
            "application/json",
        ),
        ("a 5 MB body", format!("{{\"query\": \"{{ viewer {{ subject }} }}\", \"x\": \"{}\"}}", "x".repeat(5 << 20)), "application/json"),
        ("orders without a token", json!({"query": "{ orders(filter: {traderId: \"hub\"}) { totalCount } }"}).to_string(), "application/json"),
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::var("ORDERHUB_REFUSAL_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(50);
    let dir = std::env::temp_dir().join(format!("orderhub-refusals-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (mut server, address) = serve(&dir)?;
    let pid = server.id();
    let url = format!("http://{address}/graphql");
    let http = reqwest::Client::new();
    let attacks = attacks();

    // A body refused for its size is answered 413 before it is read; the server then closes the
    // connection, so a client still writing may see the close instead of the answer.
    let round = || async {
        let mut refused = 0usize;
        let mut statuses = std::collections::BTreeMap::new();
        for (name, body, media) in &attacks {
            let sends = (0..8).map(|_| http.post(&url).header("content-type", *media).body(body.clone()).send());
            for answer in join_all(sends).await {
                let outcome = match answer {
                    Ok(answer) => {
                        let status = answer.status().as_u16();
                        let text = answer.text().await.unwrap_or_default();
                        let coded = ["QUERY_TOO_COMPLEX", "QUERY_TOO_DEEP", "PAYLOAD_TOO_LARGE", "UNAUTHENTICATED"]
                            .iter()
                            .find(|code| text.contains(*code));
                        refused += usize::from(coded.is_some());
                        format!("{status} {}", coded.copied().unwrap_or("?"))
                    }
                    Err(_) if name.contains("MB") => {
                        refused += 1;
                        "closed while the client was still sending (after 413)".to_owned()
                    }
                    Err(e) => format!("failed: {e}"),
                };
                *statuses.entry((*name, outcome)).or_insert(0usize) += 1;
            }
        }
        (refused, statuses)
    };

    let started = Instant::now();
    let (warm_refused, statuses) = round().await;
    let (after_warm_up, _) = memory(pid);
    reset_peak(pid);
    let mut all_refused = warm_refused;
    for _ in 0..rounds {
        all_refused += round().await.0;
    }
    let (after, peak) = memory(pid);
    let requests = (rounds + 1) * attacks.len() * 8;
    println!(
        "refused load: {requests} requests in {:.1} s, {all_refused} refused with their code",
        started.elapsed().as_secs_f64()
    );
    for ((attack, outcome), count) in &statuses {
        println!("  warm-up round, {attack}: {count} x {outcome}");
    }
    for (name, body, _) in &attacks {
        println!("  attack: {name} ({} bytes)", body.len());
    }
    println!(
        "server resident memory: {after_warm_up:.1} MiB after the warm-up round, {after:.1} MiB after {rounds} more rounds, peak {peak:.1} MiB over them"
    );
    println!("growth after warm-up: {:.1} MiB resident, {:.1} MiB peak", after - after_warm_up, peak - after_warm_up);
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    anyhow::ensure!(all_refused == requests, "every request must be refused with its code");
    Ok(())
}
