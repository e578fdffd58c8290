//! Integration tests whose assertions depend on the host having the machine's cores to
//! itself (a healthy destination's latency while another is down): a test binary of their
//! own, which cargo runs after the others, never beside them.

mod resilience;
