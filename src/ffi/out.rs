//! Library-owned results: a `#[repr(C)]` struct that C reads, with the strings and arrays its
//! pointers refer to kept alive behind it in the same allocation, and freed in one call.

use std::ffi::{c_char, CString};

use super::{vmailsql_result, Failure};

/// The C strings one result points into. A `CString`'s bytes never move, so pointers stay
/// valid while the arena grows.
#[derive(Default)]
pub(crate) struct Arena {
    strings: Vec<CString>,
}

impl Arena {
    /// A copy of `value` owned by the arena.
    pub(crate) fn str(&mut self, value: &str) -> Result<*const c_char, Failure> {
        let owned = CString::new(value).map_err(|_| {
            Failure::new(
                vmailsql_result::VMAILSQL_INVALID_INPUT,
                "a stored value contains a NUL byte",
            )
        })?;
        let ptr = owned.as_ptr();
        self.strings.push(owned);
        Ok(ptr)
    }

    /// As [`Arena::str`]; `None` becomes NULL.
    pub(crate) fn opt(&mut self, value: Option<&str>) -> Result<*const c_char, Failure> {
        value.map_or(Ok(std::ptr::null()), |v| self.str(v))
    }

    /// A NULL-terminated array of arena strings; the `Vec` is returned so that the caller keeps
    /// it alive (its buffer never moves once built).
    pub(crate) fn array<'a>(
        &mut self,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<*const c_char>, Failure> {
        let mut ptrs = values
            .into_iter()
            .map(|v| self.str(v))
            .collect::<Result<Vec<_>, _>>()?;
        ptrs.push(std::ptr::null());
        Ok(ptrs)
    }
}

/// A public struct `T` followed by what its pointers refer to. `#[repr(C)]` puts `public` at
/// offset 0, so a pointer to the whole is a pointer to `T` for C.
#[repr(C)]
pub(crate) struct Owned<T, K = ()> {
    public: T,
    // Never read: these only keep alive what `public` points to.
    #[allow(dead_code)]
    arena: Arena,
    #[allow(dead_code)]
    keep: K,
}

impl<T, K> Owned<T, K> {
    /// Moves a result to the heap and returns the pointer C receives.
    pub(crate) fn into_raw(public: T, arena: Arena, keep: K) -> *mut T {
        Box::into_raw(Box::new(Owned {
            public,
            arena,
            keep,
        }))
        .cast::<T>()
    }

    /// Frees a result made by [`Owned::into_raw`] with the same `T` and `K`; NULL does nothing.
    ///
    /// # Safety
    /// `ptr` is NULL or came from `Owned::<T, K>::into_raw` and was not freed before.
    pub(crate) unsafe fn free(ptr: *mut T) {
        if !ptr.is_null() {
            // SAFETY: the whole allocation is an Owned<T, K> by the caller's contract.
            drop(unsafe { Box::from_raw(ptr.cast::<Owned<T, K>>()) });
        }
    }
}
