//! Generator (next commit).
