//! Dense integer ids. Nodes, SKUs and carriers are interned at load so the hot path indexes arrays
//! instead of hashing strings.

macro_rules! dense_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl $name {
            /// The id as an index into the snapshot's arrays.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

dense_id!(
    /// A node (DC, store, dropship vendor) in a snapshot.
    NodeId
);
dense_id!(
    /// A SKU in a snapshot.
    SkuId
);
dense_id!(
    /// A carrier named in the rate cards.
    CarrierId
);
