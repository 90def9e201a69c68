//! Where a request's time goes inside Envoy, for `make bench`. Built with
//! the `phase-timing` feature, the filter reads the host clock around its
//! phases and logs the averages every [`REPORT_EVERY`] requests; the bench
//! reads them from Envoy's log. Without the feature every function here is
//! empty and the clock is not read.
//!
//! "Between requests" is the time from the end of one request's header
//! callback to the start of the next one on the same worker: under a load
//! that keeps the worker busy, that is Envoy's own work per request.

/// The parts of a request's header callback that are timed.
#[derive(Debug, Clone, Copy)]
pub enum Timed {
    /// Reading the header map from the host.
    ReadHeaders,
    /// The core's decision, signature checks included.
    Decide,
    /// Envoy's `verify_signature` calls (part of [`Timed::Decide`]).
    HostSignature,
    /// Setting `:path` and the headers.
    ApplyDecision,
}

pub use timing::{add, mark, request_finished, request_started};

#[cfg(feature = "phase-timing")]
mod timing {
    use std::cell::RefCell;
    use std::fmt::Write;

    use super::Timed;
    use crate::host::{clock::now_ns, log};

    /// Requests per report: enough that the clock's own cost is the same
    /// in every report.
    const REPORT_EVERY: u64 = 10_000;
    const PARTS: [(Timed, &str); 4] = [
        (Timed::ReadHeaders, "read_headers_us"),
        (Timed::Decide, "decide_us"),
        (Timed::HostSignature, "host_signature_us"),
        (Timed::ApplyDecision, "apply_decision_us"),
    ];

    #[derive(Default)]
    struct Totals {
        requests: u64,
        part_ns: [u64; PARTS.len()],
        between_ns: u64,
        betweens: u64,
        last_end_ns: Option<u64>,
    }

    thread_local! {
        static TOTALS: RefCell<Totals> = RefCell::default();
    }

    /// A point in time on the host clock.
    pub struct Mark(u64);

    pub fn mark() -> Mark {
        Mark(now_ns())
    }

    pub fn add(part: Timed, since: &Mark) {
        let elapsed = now_ns().saturating_sub(since.0);
        TOTALS.with(|totals| totals.borrow_mut().part_ns[part as usize] += elapsed);
    }

    pub fn request_started(start: &Mark) {
        TOTALS.with(|totals| {
            let mut totals = totals.borrow_mut();
            if let Some(last_end) = totals.last_end_ns {
                totals.between_ns += start.0.saturating_sub(last_end);
                totals.betweens += 1;
            }
        });
    }

    pub fn request_finished() {
        let report = TOTALS.with(|totals| {
            let mut totals = totals.borrow_mut();
            totals.requests += 1;
            (totals.requests == REPORT_EVERY).then(|| {
                let report = report_of(&totals);
                *totals = Totals::default();
                report
            })
        });
        if let Some(report) = report {
            log::warn(&report);
        }
        let end = now_ns();
        TOTALS.with(|totals| totals.borrow_mut().last_end_ns = Some(end));
    }

    /// One JSON object of per-request averages in µs, and what one clock
    /// read costs (every timed phase includes about one).
    fn report_of(totals: &Totals) -> String {
        let per_request = |ns: u64, count: u64| ns as f64 / count.max(1) as f64 / 1000.0;
        let mut report = format!("tenantgate-phase-timing {{\"requests\":{}", totals.requests);
        for (part, name) in PARTS {
            let average = per_request(totals.part_ns[part as usize], totals.requests);
            let _ = write!(report, ",\"{name}\":{average:.3}");
        }
        let between = per_request(totals.between_ns, totals.betweens);
        let _ = write!(
            report,
            ",\"between_requests_us\":{between:.3},\"clock_read_us\":{:.3}}}",
            clock_read_us()
        );
        report
    }

    fn clock_read_us() -> f64 {
        const READS: u64 = 100;
        let start = now_ns();
        for _ in 1..READS {
            std::hint::black_box(now_ns());
        }
        now_ns().saturating_sub(start) as f64 / READS as f64 / 1000.0
    }
}

#[cfg(not(feature = "phase-timing"))]
mod timing {
    use super::Timed;

    pub struct Mark;

    #[inline(always)]
    pub fn mark() -> Mark {
        Mark
    }

    #[inline(always)]
    pub fn add(_part: Timed, _since: &Mark) {}

    #[inline(always)]
    pub fn request_started(_start: &Mark) {}

    #[inline(always)]
    pub fn request_finished() {}
}
