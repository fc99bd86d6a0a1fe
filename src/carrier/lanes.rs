//! Priority lanes of one route: a bounded queue per [`Class`], taken OTP first, then
//! notification, then marketing, with a reserved share so no class waits for ever: a
//! class passed over [`RESERVE`] times in a row goes next. The share is taken only from
//! the classes that are actually waiting, so when marketing alone fills the route an OTP
//! still goes in the very next slot.

use std::collections::VecDeque;

use super::Class;

/// A waiting class passed over this many times in a row goes next (about 1 slot in 10).
pub(crate) const RESERVE: u32 = 9;

/// Three bounded FIFO queues.
#[derive(Debug)]
pub(crate) struct Lanes<T> {
    queues: [VecDeque<T>; 3],
    capacity: usize,
    /// Picks in a row that passed each waiting class over.
    skipped: [u32; 3],
}

impl<T> Lanes<T> {
    /// Each class holds at most `capacity` items.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queues: [VecDeque::new(), VecDeque::new(), VecDeque::new()],
            capacity: capacity.max(1),
            skipped: [0; 3],
        }
    }

    /// Appends to `class`'s lane; hands the item back when that lane is full.
    pub(crate) fn push(&mut self, class: Class, item: T) -> Result<(), T> {
        let queue = &mut self.queues[class.index()];
        if queue.len() >= self.capacity {
            return Err(item);
        }
        queue.push_back(item);
        Ok(())
    }

    /// How many items a lane holds.
    pub(crate) const fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many more `class` items fit.
    pub(crate) fn room(&self, class: Class) -> usize {
        self.capacity
            .saturating_sub(self.queues[class.index()].len())
    }

    /// Whether `class`'s lane is full.
    pub(crate) fn is_full(&self, class: Class) -> bool {
        self.queues[class.index()].len() >= self.capacity
    }

    /// The class the next [`Lanes::pop`] takes from, if any.
    pub(crate) fn next_class(&self) -> Option<Class> {
        let waiting = |class: &Class| !self.queues[class.index()].is_empty();
        let first = Class::ALL.into_iter().find(waiting)?;
        let starved = [Class::Marketing, Class::Notification]
            .into_iter()
            .find(|class| waiting(class) && self.skipped[class.index()] >= RESERVE);
        Some(starved.unwrap_or(first))
    }

    /// Takes the next item by priority.
    pub(crate) fn pop(&mut self) -> Option<(Class, T)> {
        let chosen = self.next_class()?;
        for class in Class::ALL {
            let skipped = &mut self.skipped[class.index()];
            if class == chosen || self.queues[class.index()].is_empty() {
                *skipped = 0;
            } else {
                *skipped += 1;
            }
        }
        self.queues[chosen.index()]
            .pop_front()
            .map(|item| (chosen, item))
    }

    /// Empties every lane.
    pub(crate) fn drain_all(&mut self) -> Vec<T> {
        self.queues.iter_mut().flat_map(std::mem::take).collect()
    }

    /// Items waiting in `class`'s lane.
    pub(crate) fn len(&self, class: Class) -> usize {
        self.queues[class.index()].len()
    }

    /// Whether every lane is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded() {
        let mut lanes = Lanes::new(2);
        assert!(lanes.push(Class::Otp, 1).is_ok());
        assert!(lanes.push(Class::Otp, 2).is_ok());
        assert_eq!(lanes.push(Class::Otp, 3), Err(3));
        assert!(lanes.push(Class::Marketing, 4).is_ok());
        assert_eq!(lanes.len(Class::Otp), 2);
    }

    #[test]
    fn otp_first_marketing_never_starved() {
        let mut lanes = Lanes::new(1000);
        for i in 0..100 {
            lanes.push(Class::Marketing, ('m', i)).unwrap();
            lanes.push(Class::Notification, ('n', i)).unwrap();
            lanes.push(Class::Otp, ('o', i)).unwrap();
        }
        let first: Vec<char> = (0..20).map(|_| lanes.pop().unwrap().1.0).collect();
        // Mostly OTP; notification and marketing each get a turn about every ten.
        assert_eq!(first.iter().filter(|c| **c == 'o').count(), 17, "{first:?}");
        assert_eq!(first.iter().filter(|c| **c == 'n').count(), 1, "{first:?}");
        assert_eq!(first.iter().filter(|c| **c == 'm').count(), 2, "{first:?}");
        assert_eq!(first[..9], ['o'; 9]);
        // Each lane stays FIFO.
        let marketing: Vec<i32> = std::iter::from_fn(|| lanes.pop())
            .filter(|(class, _)| *class == Class::Marketing)
            .map(|(_, (_, i))| i)
            .collect();
        assert_eq!(marketing, (2..100).collect::<Vec<_>>());
        let mut lanes = Lanes::new(10);
        lanes.push(Class::Otp, 1).unwrap();
        assert_eq!(lanes.drain_all(), [1]);
        assert!(lanes.is_empty());
    }

    #[test]
    fn an_otp_overtakes_a_marketing_backlog() {
        let mut lanes = Lanes::new(10_000);
        for i in 0..5_000 {
            lanes.push(Class::Marketing, i).unwrap();
        }
        for _ in 0..3 {
            let _ = lanes.pop();
        }
        lanes.push(Class::Otp, -1).unwrap();
        // Marketing was never passed over: the OTP goes next.
        assert_eq!(lanes.pop(), Some((Class::Otp, -1)));
    }
}
