//! Lookahead routing: the opportunity cost of using a unit of stock now, priced from expected
//! demand, and the `lookahead` policy that charges it.
//!
//! Every per-order router is myopic: it takes the cheapest decision now and empties the node
//! near many customers, so later orders there split or ship from far away. Following Acimovic &
//! Graves (2015, "Making better fulfillment decisions on the fly in an online retail
//! environment", M&SOM 17(1)), each SKU's transportation LP — expected demand per region over
//! the horizon until the SKU's next receipt, against what its nodes can still sell, at the
//! cost model's price of sending one unit — gives each (node, SKU) a dual price λ ≥ 0; the
//! `lookahead` policy is the exact per-order search with λ added per allocated unit. The
//! decision still reports its real cost, and the opportunity cost of what it took.
//!
//! Rooms: `forecast.rs` (demand regions and rates: a planner's points or the smoothed history),
//! `flow.rs` (one SKU's LP as a min-cost flow, and its least optimal duals), `prices.rs` (λ per
//! inventory entry, SKUs solved in parallel), `run.rs` (the policy over a sequence of orders), `board.rs` (a service's prices, solved in
//! the background and swapped in).

mod board;
mod flow;
mod forecast;
mod prices;
mod run;

pub use board::{Board, Pricer, Refresh};
pub use flow::{Solved, Transport};
pub use forecast::{Basket, Forecast, History, Region};
pub use prices::{
    Expected, FULL_ASSORTMENT, Prices, Reach, SkuSolve, Together, full_assortment, solve_all,
    solve_sku, unit_cost,
};
pub use run::{Lookahead, PricingStats, Source, inbound_receipts, route_all_lookahead};
