//! The request's header map in one host call, kept as the block the host
//! writes (see `header_pairs` for its layout), so reading a request costs
//! one allocation rather than two per header.

use std::ptr::null_mut;

use proxy_wasm::types::MapType;

#[link(wasm_import_module = "env")]
extern "C" {
    // The ABI's status and map type are 32-bit integers; they are declared
    // as such so that no value the host returns can be an invalid enum.
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
}

const STATUS_OK: u32 = 0;

/// The serialised request header map; empty when the host has none to give.
pub fn request_header_block() -> Vec<u8> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    // SAFETY: on success the host has written `size` bytes into a block it
    // allocated through the SDK's `proxy_on_memory_allocate` (a `Vec<u8>`
    // of exactly that capacity, left unowned) and hands its ownership to
    // the caller, which is how the SDK itself takes such blocks back.
    unsafe {
        let status =
            proxy_get_header_map_pairs(MapType::HttpRequestHeaders as u32, &mut data, &mut size);
        if status != STATUS_OK || data.is_null() {
            return Vec::new();
        }
        Vec::from_raw_parts(data, size, size)
    }
}
