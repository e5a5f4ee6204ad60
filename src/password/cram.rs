//! Dovecot's `{CRAM-MD5}` (alias `{HMAC-MD5}`): the HMAC-MD5 context of the password, what a
//! CRAM-MD5 server needs to answer a challenge without the cleartext.
//!
//! The context is the MD5 state after HMAC's outer key block (`key ^ opad`), then the state after
//! the inner one (`key ^ ipad`), each as four little-endian 32-bit words: 32 bytes, stored in hex
//! (or base64, which Dovecot also reads). A password longer than MD5's 64-byte block is first
//! replaced by its MD5 digest, as HMAC demands. Verifying recomputes the context; it is as
//! password-equivalent as an unsalted digest.

use md5_block::block_api::compress;

use super::ct_eq;
use super::digest::{decode_hex_or_base64, md5};

/// MD5's initial state (RFC 1321 section 3.3).
const MD5_IV: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// Bytes of a stored context.
const CONTEXT_LEN: usize = 32;

/// A validated `{CRAM-MD5}` value: the context it stores.
pub(super) struct CramMd5 {
    context: [u8; CONTEXT_LEN],
}

/// Parses 64 hex digits (either case) or the base64 of 32 bytes.
pub(super) fn parse(body: &str) -> Option<CramMd5> {
    let mut context = [0u8; CONTEXT_LEN];
    decode_hex_or_base64(body, &mut context).then_some(CramMd5 { context })
}

impl CramMd5 {
    /// Recomputes the context of `password` and compares in constant time.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        ct_eq(&context(password), &self.context)
    }
}

/// The HMAC-MD5 context of `password`: outer state, then inner state.
fn context(password: &[u8]) -> [u8; CONTEXT_LEN] {
    let mut key = [0u8; 64];
    if password.len() > key.len() {
        key[..16].copy_from_slice(&md5(&[password]));
    } else {
        key[..password.len()].copy_from_slice(password);
    }
    let state_after = |pad: u8| {
        let mut block = key;
        block.iter_mut().for_each(|b| *b ^= pad);
        let mut state = MD5_IV;
        compress(&mut state, &[block]);
        state
    };
    let mut out = [0u8; CONTEXT_LEN];
    let words = state_after(0x5c).into_iter().chain(state_after(0x36));
    for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}
