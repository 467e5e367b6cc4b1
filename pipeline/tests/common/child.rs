//! A child process the test owns: killed (and reaped) when dropped, so a failing test
//! leaves no server, executor or scheduler behind.

use std::ops::{Deref, DerefMut};
use std::process::Child;

pub struct Owned(pub Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Deref for Owned {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Owned {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}
