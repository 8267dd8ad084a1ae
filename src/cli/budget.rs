//! The search budget the routing commands take (`--search-budget`).

/// How many search nodes one order may visit (`route`, `simulate` and `serve`).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct SearchBudget {
    /// Search nodes one order may visit: a decision that stops there is the best found, with
    /// its proven lower bound (`lower_bound`) — fewer trade exactness for latency. At least
    /// 100 (far fewer can stop a long order's search before its first complete decision). With
    /// `route --server`, the server's own budget applies.
    #[arg(
        long,
        env = "FULFIL_SEARCH_BUDGET",
        default_value_t = fulfil::route::DEFAULT_SEARCH_BUDGET,
        value_parser = clap::value_parser!(u64).range(100..)
    )]
    pub search_budget: u64,
}

impl SearchBudget {
    /// Makes it the budget of every router this process makes from now on.
    pub fn apply(self) {
        fulfil::route::set_search_budget(self.search_budget);
    }
}
