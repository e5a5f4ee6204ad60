//! Ownership of everything the library hands to C, fixed once per C type.
//!
//! Each exported struct implements [`LibraryOwned`]: its `Keep` type says what else its
//! allocation holds (item arrays, pointer arrays), so converting to a pointer and freeing name
//! only the C type and cannot pick the wrong layout. Strings go into an [`Arena`] inside the same
//! allocation; C frees the whole in one call. Owned C strings (`char **` out-parameters) are the
//! one other kind: [`owned_string`] makes them and `vmailsql_string_free` takes them back.

use std::ffi::{c_char, CString};

use super::{quiet_boundary, vmailsql_result, Failure, FfiResult};

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
                vmailsql_result::VMAILSQL_UNSAFE_DATA,
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

/// A C struct the library allocates and C frees with the struct's own `*_free` function.
pub(crate) trait LibraryOwned: Sized {
    /// What the allocation keeps alive besides the struct and its string arena.
    type Keep;
}

/// The allocation behind a pointer to `T`. `#[repr(C)]` puts `public` at offset 0, so a
/// pointer to the whole is a pointer to `T` for C.
#[repr(C)]
struct Owned<T: LibraryOwned> {
    public: T,
    // Never read: these only keep alive what `public` points to.
    #[allow(dead_code)]
    arena: Arena,
    #[allow(dead_code)]
    keep: T::Keep,
}

/// Moves a result to the heap and returns the pointer C receives (freed by [`free`]).
pub(crate) fn into_raw<T: LibraryOwned>(public: T, arena: Arena, keep: T::Keep) -> *mut T {
    Box::into_raw(Box::new(Owned {
        public,
        arena,
        keep,
    }))
    .cast::<T>()
}

/// The body of every `*_free` function: frees what [`into_raw`] made; NULL does nothing and a
/// panic never crosses into C.
///
/// # Safety
/// `ptr` is NULL or came from [`into_raw`] and was not freed before.
pub(crate) unsafe fn free<T: LibraryOwned>(ptr: *mut T) {
    quiet_boundary((), || {
        if !ptr.is_null() {
            // SAFETY: the whole allocation is an Owned<T> by the caller's contract.
            drop(unsafe { Box::from_raw(ptr.cast::<Owned<T>>()) });
        }
    })
}

/// A shared reference to a library-owned struct behind an argument pointer.
///
/// # Safety
/// `ptr` is NULL or a live pointer from [`into_raw`].
pub(crate) unsafe fn borrow<'a, T: LibraryOwned>(
    ptr: *const T,
    name: &str,
) -> Result<&'a T, Failure> {
    // SAFETY: live by the caller's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| {
        Failure::new(
            vmailsql_result::VMAILSQL_NULL_ARGUMENT,
            format!("{name} is NULL"),
        )
    })
}

/// A C struct built from one row of the Rust API.
pub(crate) trait FromRow<R>: LibraryOwned<Keep = ()> {
    /// The C view of `row`, its strings in `arena`.
    fn from_row(arena: &mut Arena, row: &R) -> Result<Self, Failure>;
}

/// One row for C, freed with its type's `*_free`.
pub(crate) fn one<R, T: FromRow<R>>(row: &R) -> Result<*mut T, Failure> {
    let mut arena = Arena::default();
    let public = T::from_row(&mut arena, row)?;
    Ok(into_raw(public, arena, ()))
}

/// A C list struct: `count` items behind one pointer, NULL when empty.
pub(crate) trait List: LibraryOwned<Keep = Vec<Self::Item>> {
    /// The C type of one item.
    type Item;
    /// The list struct for `count` items at `items`.
    fn new(count: usize, items: *const Self::Item) -> Self;
}

/// A list of rows for C, freed with the list type's `*_free`.
pub(crate) fn list<R, L>(rows: &[R]) -> Result<*mut L, Failure>
where
    L: List,
    L::Item: FromRow<R>,
{
    let mut arena = Arena::default();
    let items = rows
        .iter()
        .map(|r| L::Item::from_row(&mut arena, r))
        .collect::<Result<Vec<_>, _>>()?;
    let ptr = if items.is_empty() {
        std::ptr::null()
    } else {
        items.as_ptr()
    };
    Ok(into_raw(L::new(items.len(), ptr), arena, items))
}

/// A library-owned C string for an out-parameter (freed with `vmailsql_string_free`).
pub(crate) fn owned_string(value: String) -> Result<*mut c_char, Failure> {
    CString::new(value).map(CString::into_raw).map_err(|_| {
        Failure::new(
            vmailsql_result::VMAILSQL_UNSAFE_DATA,
            "a returned value contains a NUL byte",
        )
    })
}

/// The body of a function returning one value through a required out-parameter: `out` is
/// checked before any work is done and written only when `make` succeeds.
///
/// # Safety
/// `out` is NULL or valid for a write of `T`.
pub(crate) unsafe fn produce<T>(
    out: *mut T,
    name: &str,
    make: impl FnOnce() -> Result<T, Failure>,
) -> FfiResult {
    super::out_arg(out, name)?;
    let value = make()?;
    // SAFETY: checked non-NULL above, writable by the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Writes an optional out-parameter: when `out` is NULL nothing is made.
///
/// # Safety
/// `out` is NULL or valid for a write of `T`.
pub(crate) unsafe fn produce_opt<T>(
    out: *mut T,
    make: impl FnOnce() -> Result<T, Failure>,
) -> FfiResult {
    if !out.is_null() {
        let value = make()?;
        // SAFETY: non-NULL, writable by the caller's contract.
        unsafe { out.write(value) };
    }
    Ok(())
}

/// Implements [`LibraryOwned`] for C types, each with what its allocation keeps alive.
macro_rules! library_owned {
    ($($c_type:ty => $keep:ty),* $(,)?) => {
        $(impl $crate::ffi::out::LibraryOwned for $c_type { type Keep = $keep; })*
    };
}
pub(crate) use library_owned;

/// Implements [`List`] for C list structs (`count` and `items` fields) of their item type.
macro_rules! c_list {
    ($($list:ident of $item:ty),* $(,)?) => {
        $(
            $crate::ffi::out::library_owned!($list => Vec<$item>);
            impl $crate::ffi::out::List for $list {
                type Item = $item;
                fn new(count: usize, items: *const $item) -> Self {
                    $list { count, items }
                }
            }
        )*
    };
}
pub(crate) use c_list;
