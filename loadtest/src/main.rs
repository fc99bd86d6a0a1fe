//! `smpp-loadtest` — placeholder until the load-testing issue lands.
//!
//! The real tool (open-loop rate control, HDR histograms, HTML report) arrives with the
//! load-testing issue; until then this binary explains that and exits with status 2.

fn main() {
    eprintln!(
        "error: smpp-loadtest is not built yet; it arrives with the load-testing issue \
         (see README). Use `smppgate send --count N` meanwhile."
    );
    std::process::exit(2);
}
