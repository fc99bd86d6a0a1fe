//! A node's share of each carrier's binds and contracted TPS when several gateway nodes
//! send to it (`[cluster]`, docs/cluster.md "Carrier TPS across nodes").
//!
//! The carrier's `binds` and `tps` are the cluster's totals (a carrier counts binds per
//! account, and its contract is one rate), so each node holds a part of the binds and its
//! limiter runs at a part of the contract. Both are split the same way, in whole units
//! that add up to the total exactly: node `index` of `of` (live nodes sorted by name, so
//! every node computes the same split without talking to the others) gets `total / of`,
//! and the first `total % of` nodes one more. Two nodes on 200/s and 4 binds: 100 + 100
//! and 2 + 2; three: 67 + 67 + 66 and 2 + 1 + 1.
//!
//! Each part is at least 1: a node with no bind could not send what it accepted, and a
//! limiter needs a rate. With fewer binds than nodes the carrier then sees one bind per
//! node ([`Share::total_binds`]), more than its `binds`; `serve` warns about it.

/// Which part of the contract this node sends: it is node `index` of `of` live nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// This node's place among the live nodes (sorted by name), from 0.
    pub index: usize,
    /// Live nodes (at least 1).
    pub of: usize,
}

impl Share {
    /// One node alone: the whole contract.
    pub const WHOLE: Self = Self { index: 0, of: 1 };

    /// This node's part of `contract` messages per second. At least 1 (a limiter needs
    /// a rate): with fewer messages per second than nodes the cluster sends up to one
    /// per node per second (docs/cluster.md).
    #[must_use]
    pub fn of_tps(self, contract: u32) -> u32 {
        let contract = usize::try_from(contract).unwrap_or(usize::MAX);
        u32::try_from(self.part(contract)).unwrap_or(u32::MAX)
    }

    /// This node's part of `total` (see the module documentation): `total / of`, one
    /// more for the first `total % of` nodes, at least 1.
    fn part(self, total: usize) -> usize {
        let of = self.of.max(1);
        let extra = usize::from(self.index < total % of);
        (total / of + extra).max(1)
    }
}

impl Share {
    /// This node's part of a carrier's `binds`: at least 1 (with fewer binds than
    /// nodes, each node keeps one).
    #[must_use]
    pub fn of_binds(self, binds: usize) -> usize {
        self.part(binds)
    }

    /// The binds the carrier sees from all the live nodes together: `binds`, or one per
    /// node when there are fewer binds than nodes.
    #[must_use]
    pub fn total_binds(self, binds: usize) -> usize {
        binds.max(self.of.max(1))
    }
}

impl Default for Share {
    fn default() -> Self {
        Self::WHOLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(contract: u32, of: usize) -> Vec<u32> {
        (0..of)
            .map(|index| Share { index, of }.of_tps(contract))
            .collect()
    }

    #[test]
    fn the_parts_add_up_to_the_contract() {
        assert_eq!(parts(200, 1), [200]);
        assert_eq!(parts(200, 2), [100, 100]);
        assert_eq!(parts(200, 3), [67, 67, 66]);
        assert_eq!(parts(7, 4), [2, 2, 2, 1]);
        for contract in [1, 9, 100, 333, 1_000_000] {
            for of in 1..=7 {
                if contract as usize >= of {
                    assert_eq!(parts(contract, of).iter().sum::<u32>(), contract);
                }
            }
        }
    }

    fn bind_parts(binds: usize, of: usize) -> Vec<usize> {
        (0..of)
            .map(|index| Share { index, of }.of_binds(binds))
            .collect()
    }

    #[test]
    fn the_bind_parts_add_up_to_the_binds() {
        assert_eq!(bind_parts(4, 1), [4]);
        assert_eq!(bind_parts(4, 2), [2, 2]);
        assert_eq!(bind_parts(4, 3), [2, 1, 1]);
        assert_eq!(bind_parts(5, 2), [3, 2]);
        for binds in 1..=17 {
            for of in 1..=binds {
                let parts = bind_parts(binds, of);
                assert_eq!(
                    parts.iter().sum::<usize>(),
                    binds,
                    "{binds} binds, {of} nodes"
                );
                assert!(parts.iter().all(|part| *part >= 1));
                assert_eq!(Share { index: 0, of }.total_binds(binds), binds);
            }
        }
    }

    #[test]
    fn with_fewer_binds_than_nodes_each_node_keeps_one() {
        assert_eq!(bind_parts(2, 3), [1, 1, 1]);
        assert_eq!(Share { index: 2, of: 3 }.total_binds(2), 3);
        assert_eq!(Share { index: 0, of: 0 }.of_binds(4), 4);
        assert_eq!(Share::WHOLE.total_binds(4), 4);
    }

    #[test]
    fn a_tiny_contract_still_gives_each_node_a_rate() {
        assert_eq!(parts(2, 3), [1, 1, 1]);
        assert_eq!(Share { index: 0, of: 0 }.of_tps(50), 50);
        assert_eq!(Share::default(), Share::WHOLE);
    }
}
