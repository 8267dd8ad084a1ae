//! The search against the exact MIP (HiGHS): on many small random networks, every order's cost
//! under the search equals the MIP optimum given the same reservations.

use fulfil::route::mip::solve_order;
use fulfil::route::{Ledger, PolicyKind, Router, price};

use super::support::random_scenario;

/// Routes every order of the scenario in `dir` in sequence and checks each against the MIP
/// given the same reservations; returns the decisions compared.
fn compare_with_mip(dir: &std::path::Path, seed: u64) -> Vec<fulfil::model::Decision> {
    let (snapshot, orders) = super::support::loaded(dir);
    let mut ledger = Ledger::new(&snapshot);
    let mut router = Router::new();
    let mut decisions = Vec::with_capacity(orders.len());
    for order in &orders {
        let routed = router
            .route(&snapshot, &ledger, order, PolicyKind::Optimal)
            .expect("routes");
        assert!(routed.exact, "seed {seed} order {}: budget hit", order.id);
        let mip = solve_order(&snapshot, &ledger, order).expect("MIP solves");
        let mip_priced = price(&snapshot, order, &mip.plan).expect("MIP plan prices");
        assert!(
            (mip_priced.cost.total - mip.objective).abs() < 1e-5,
            "seed {seed} order {}: MIP objective {} but its plan prices at {}\nMIP: {}",
            order.id,
            mip.objective,
            mip_priced.cost.total,
            serde_json::to_string(&mip_priced).expect("json"),
        );
        assert!(
            (routed.decision.cost.total - mip.objective).abs() < 1e-5,
            "seed {seed} order {}: search {} vs MIP {}\nsearch: {}\nMIP:    {}",
            order.id,
            routed.decision.cost.total,
            mip.objective,
            serde_json::to_string(&routed.decision).expect("json"),
            serde_json::to_string(&mip_priced).expect("json"),
        );
        ledger.commit(&snapshot, order, &routed.plan);
        decisions.push(routed.decision);
    }
    decisions
}

#[test]
fn search_matches_the_exact_mip_on_random_networks() {
    let mut compared = 0;
    for seed in 0..250 {
        let s = random_scenario(seed, 8);
        compared += compare_with_mip(s.path(), seed).len();
    }
    assert!(compared >= 2000);
}

#[test]
fn search_matches_the_mip_on_wide_networks_where_it_restarts() {
    // Forty nodes with a few units each: multi-unit lines split many ways, so searches run past
    // the quick budget and restart from the greedy incumbent.
    let mut restarted = 0;
    for seed in 0..12 {
        let s = super::support::random_scenario_with(1000 + seed, 6, 40..=40);
        let (snapshot, orders) = super::support::loaded(s.path());
        let mut ledger = Ledger::new(&snapshot);
        let mut router = Router::new();
        for order in &orders {
            let routed = router
                .route(&snapshot, &ledger, order, PolicyKind::Optimal)
                .expect("routes");
            if routed.search_nodes > 4000 {
                restarted += 1;
            }
            if routed.exact {
                let mip = solve_order(&snapshot, &ledger, order).expect("MIP solves");
                assert!(
                    (routed.decision.cost.total - mip.objective).abs() < 1e-5,
                    "seed {seed} order {}: search {} vs MIP {}",
                    order.id,
                    routed.decision.cost.total,
                    mip.objective
                );
            }
            ledger.commit(&snapshot, order, &routed.plan);
        }
    }
    println!("{restarted} searches restarted");
}

#[test]
fn a_search_out_of_budget_proves_a_lower_bound_at_most_the_mip_optimum() {
    // Budgets of 1 to 30 nodes on the wide networks: many searches stop early, each with a
    // lower bound (the frontier's, or the root's) that no feasible decision beats — so at most
    // the MIP optimum — and at most its own decision's cost.
    let mut stopped = 0;
    for seed in 0..24 {
        let s = super::support::random_scenario_with(2000 + seed, 6, 20..=40);
        let (snapshot, orders) = super::support::loaded(s.path());
        let mut ledger = Ledger::new(&snapshot);
        for (i, order) in orders.iter().enumerate() {
            let budget = [1, 3, 30][i % 3];
            let routed = Router::new()
                .with_budget(budget)
                .route(&snapshot, &ledger, order, PolicyKind::Optimal)
                .expect("routes");
            if !routed.exact {
                stopped += 1;
                let bound = routed.lower_bound.expect("an optimal search's bound");
                let mip = solve_order(&snapshot, &ledger, order).expect("MIP solves");
                assert!(
                    bound <= mip.objective + 1e-6 && bound <= routed.decision.cost.total + 1e-6,
                    "seed {seed} order {}: bound {bound} above the MIP optimum {} or the cost {}",
                    order.id,
                    mip.objective,
                    routed.decision.cost.total
                );
            } else {
                assert_eq!(routed.lower_bound, None);
            }
            ledger.commit(&snapshot, order, &routed.plan);
        }
    }
    assert!(
        stopped >= 10,
        "only {stopped} searches stopped at their budget"
    );
}

/// `nodes.csv` and `inventory.csv` of sixty stores holding one unit of P and of Q each, in a
/// ring around the customer at (0, 0), and two DCs that hold everything.
fn ring() -> (String, String) {
    let mut nodes = String::from(
        "node_id,kind,lat,lon,capacity_units,cost_per_shipment,cost_per_unit\n\
         DC-A,dc,0,3,,2,0.25\nDC-B,dc,0,-3.5,,2,0.25\n",
    );
    let mut inventory = String::from("node_id,sku,on_hand\nDC-A,P,50\nDC-B,P,50\nDC-B,Q,50\n");
    for i in 0..60 {
        let angle = f64::from(i) * std::f64::consts::TAU / 60.0;
        nodes.push_str(&format!(
            "ST-{i},store,{:.4},{:.4},,{:.2},1\n",
            0.4 * angle.sin(),
            0.4 * angle.cos(),
            3.0 + f64::from(i % 7) * 0.1
        ));
        inventory.push_str(&format!("ST-{i},P,1\nST-{i},Q,1\n"));
    }
    (nodes, inventory)
}

/// The ring with two orders of six and of three or four units of each SKU.
fn ring_scenario() -> super::support::Scenario {
    let (nodes, inventory) = ring();
    super::support::Scenario::new(&[
        ("nodes.csv", &nodes),
        ("inventory.csv", &inventory),
        ("policy.toml", "split_penalty = 0.5\nmax_shipments = 4\n"),
        (
            "orders.csv",
            "order_id,lat,lon,sku,qty\no1,0,0,P,6\no1,0,0,Q,6\no2,0,0,P,3\no2,0,0,Q,4\n",
        ),
    ])
}

#[test]
fn search_restarts_from_a_greedy_incumbent_and_stays_exact() {
    // Sixty stores holding one unit each, in a ring around the customer, and two DCs that hold
    // everything: splitting six units over stores can be done in very many ways.
    let s = ring_scenario();
    let (snapshot, orders) = super::support::loaded(s.path());
    let ledger = Ledger::new(&snapshot);
    let mut router = Router::new();
    let mut most = 0;
    for order in &orders {
        let routed = router
            .route(&snapshot, &ledger, order, PolicyKind::Optimal)
            .expect("routes");
        most = most.max(routed.search_nodes);
        let mip = solve_order(&snapshot, &ledger, order).expect("MIP solves");
        assert!(
            (routed.decision.cost.total - mip.objective).abs() < 1e-5,
            "order {}: search {} (exact: {}) vs MIP {}",
            order.id,
            routed.decision.cost.total,
            routed.exact,
            mip.objective
        );
    }
    println!("largest search: {most} nodes");
}

#[test]
fn search_matches_the_exact_mip_with_dates_on() {
    // Time zones, cut-offs, calendars, weekend carriers, inbound supply, deliver_by hard and
    // priced, and `auto`: the MIP chooses each shipment's service, billable kg and handling
    // floor as binaries with the spec's carrier, price and day for each.
    let (mut compared, mut late) = (0, 0);
    for seed in 0..120 {
        let s = super::support::random_dated_scenario(seed, 8);
        let decisions = compare_with_mip(s.path(), seed);
        compared += decisions.len();
        late += decisions
            .iter()
            .filter(|d| d.late_days.unwrap_or(0) > 0)
            .count();
    }
    assert!(compared >= 900);
    assert!(
        late > 0,
        "no order chose to be late: the test does not exercise lateness"
    );
}

#[test]
fn search_matches_the_exact_mip_with_heavy_items_and_priced_lateness() {
    // Items of up to 20 kg: the price per kilogram is most of a shipment's cost, which the
    // search's weight bound counts (each unit's weight at its holder's least per-kg rate,
    // less what the open shipments and the lateness charge were already charged).
    // `FULFIL_TEST_SEEDS=N` runs N networks (1,500 passed).
    let shape = super::support::Shape {
        max_kg: 20.0,
        max_nodes: 12,
        max_qty: 6,
    };
    let seeds: u64 = std::env::var("FULFIL_TEST_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut compared = 0;
    for seed in 0..seeds {
        let s = super::support::random_dated_scenario_with(1000 + seed, 8, shape);
        compared += compare_with_mip(s.path(), seed).len();
    }
    assert!(compared >= 8 * seeds as usize);
}

/// Orders whose cost differs between two runs of the same orders (the rules bind there).
fn differing(a: &[fulfil::model::Decision], b: &[fulfil::model::Decision]) -> usize {
    a.iter()
        .zip(b)
        .filter(|(x, y)| (x.cost.total - y.cost.total).abs() > 1e-6)
        .count()
}

#[test]
fn search_matches_the_exact_mip_under_order_rules() {
    // Channels on nodes and orders, unsplittable SKUs, ship-together groups and a minimum
    // shipment value, with dates off and on: the MIP models each rule with its own binaries.
    let (mut compared, mut bind) = (0, 0);
    for seed in 0..160 {
        let plain = if seed % 2 == 0 {
            random_scenario(seed, 8)
        } else {
            super::support::random_dated_scenario(seed, 8)
        };
        let without = plain.route();
        let ruled = super::support::with_rules(plain, seed);
        let decisions = compare_with_mip(ruled.path(), seed);
        bind += differing(&decisions, &without);
        compared += decisions.len();
    }
    assert!(compared >= 1200);
    assert!(
        bind >= 200,
        "the rules changed only {bind} decisions: the test does not exercise them"
    );
}

#[test]
fn a_search_out_of_budget_finds_the_two_node_optimum_around_its_decision() {
    // The ring of "restarts from a greedy incumbent" with a budget too small to finish: the
    // search stops with its best decision so far, and the two-node searches around it reach
    // the optimum (both DCs), which the MIP confirms.
    let (nodes, inventory) = ring();
    let s = ring_scenario();
    let dated = super::support::Scenario::new(&[
        ("nodes.csv", &nodes),
        ("inventory.csv", &inventory),
        (
            "policy.toml",
            "split_penalty = 0.5\nmax_shipments = 4\nlate_penalty_per_day = 4.0\n",
        ),
        (
            "orders.csv",
            "order_id,created_at,lat,lon,sku,qty,deliver_by\n\
             o1,2026-03-02T10:00:00Z,0,0,P,6,2026-03-03\no1,2026-03-02T10:00:00Z,0,0,Q,6,2026-03-03\n\
             o2,2026-03-02T11:00:00Z,0,0,P,3,2026-03-04\no2,2026-03-02T11:00:00Z,0,0,Q,4,2026-03-04\n",
        ),
    ]);
    let (snapshot, orders) = super::support::loaded(s.path());
    let ledger = Ledger::new(&snapshot);
    // With lateness priced the two-node searches follow the joint search and the one under
    // the hard deadline: the decision is a valid one (never below the optimum, within stock),
    // priced as the search found it (the router asserts that in debug builds).
    let (dated_snapshot, dated_orders) = super::support::loaded(dated.path());
    let dated_ledger = Ledger::new(&dated_snapshot);
    for budget in [10, 100, 1_000] {
        let mut router = Router::new().with_budget(budget);
        for order in &dated_orders {
            let routed = router
                .route(&dated_snapshot, &dated_ledger, order, PolicyKind::Optimal)
                .expect("routes");
            assert!(
                !routed.exact,
                "budget {budget}, dated order {}: finished",
                order.id
            );
            let mip = solve_order(&dated_snapshot, &dated_ledger, order).expect("MIP solves");
            assert!(
                routed.decision.cost.total >= mip.objective - 1e-5,
                "budget {budget}, dated order {}: {} below the optimum {}",
                order.id,
                routed.decision.cost.total,
                mip.objective
            );
            assert!(dated_ledger.fits(&dated_snapshot, order, &routed.plan));
        }
    }
    for budget in [10, 100, 1_000] {
        let mut router = Router::new().with_budget(budget);
        for order in &orders {
            let routed = router
                .route(&snapshot, &ledger, order, PolicyKind::Optimal)
                .expect("routes");
            assert!(
                !routed.exact,
                "budget {budget}, order {}: finished",
                order.id
            );
            let mip = solve_order(&snapshot, &ledger, order).expect("MIP solves");
            assert!(
                (routed.decision.cost.total - mip.objective).abs() < 1e-5,
                "budget {budget}, order {}: {} against the optimum {}",
                order.id,
                routed.decision.cost.total,
                mip.objective
            );
            assert!(ledger.fits(&snapshot, order, &routed.plan));
        }
    }
}

/// Per-unit prices by node (every SKU alike), as the `lookahead` policy charges them.
struct NodePrices(Vec<f64>);

impl fulfil::route::UnitPrices for NodePrices {
    fn unit_price(&self, _entry: usize, node: fulfil::model::NodeId, _day: Option<i32>) -> f64 {
        self.0[node.index()]
    }
}

#[test]
fn priced_search_matches_the_mip_with_prices_folded_into_node_costs() {
    // The `lookahead` policy's search charges a price per unit on top of the real cost. With
    // the same price for every SKU of a node, that is the network with the price added to the
    // node's cost per unit, which the MIP solves exactly: the priced search's cost must be its
    // optimum (its greedy start and its bounds with prices — each unit's weight at the open
    // shipments' per-kg floor — must not cut the optimum off).
    let seeds: u64 = std::env::var("FULFIL_TEST_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let mut compared = 0;
    for seed in 0..seeds {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7000 + seed);
        let nodes = rng.random_range(3..=10);
        // In cents, so that the folded network's costs are written exactly.
        let prices: Vec<f64> = (0..nodes)
            .map(|_| f64::from(rng.random_range(0..600u32)) / 100.0)
            .collect();
        let plain = super::support::many_lines_scenario(seed, &vec![0.0; nodes]);
        let folded = super::support::many_lines_scenario(seed, &prices);
        let (snapshot, orders) = super::support::loaded(plain.path());
        let (folded_snapshot, folded_orders) = super::support::loaded(folded.path());
        let mut router = Router::new();
        let node_prices = NodePrices(prices.clone());
        for (order, same) in orders.iter().zip(&folded_orders) {
            let untouched = Ledger::new(&snapshot);
            let priced = router
                .route_priced(&snapshot, &untouched, order, &node_prices)
                .expect("routes");
            let mip = solve_order(&folded_snapshot, &Ledger::new(&folded_snapshot), same)
                .expect("MIP solves");
            assert!(
                (priced.priced_cost - mip.objective).abs() < 1e-5,
                "seed {seed} order {}: priced search {} vs MIP {} (prices {prices:?})",
                order.id,
                priced.priced_cost,
                mip.objective,
            );
            compared += 1;
        }
    }
    assert!(compared >= 6 * seeds as usize);
}
