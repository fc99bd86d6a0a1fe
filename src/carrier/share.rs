//! A node's share of each carrier's contracted TPS when several gateway nodes send to it
//! (`[cluster]`, docs/cluster.md "Carrier TPS across nodes").
//!
//! Every live node binds every carrier; the contract is the cluster's total, so each
//! node's limiter gets a part of it. The parts are whole messages per second and add up to
//! the contract exactly: node `index` of `of` (live nodes sorted by name, so every node
//! computes the same split without talking to the others) gets `tps / of`, and the first
//! `tps % of` nodes one more. Two nodes on 200/s: 100 + 100; three: 67 + 67 + 66.

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
        let of = u32::try_from(self.of.max(1)).unwrap_or(u32::MAX);
        let index = u32::try_from(self.index).unwrap_or(u32::MAX);
        let extra = u32::from(index < contract % of);
        (contract / of + extra).max(1)
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

    #[test]
    fn a_tiny_contract_still_gives_each_node_a_rate() {
        assert_eq!(parts(2, 3), [1, 1, 1]);
        assert_eq!(Share { index: 0, of: 0 }.of_tps(50), 50);
        assert_eq!(Share::default(), Share::WHOLE);
    }
}
