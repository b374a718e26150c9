pub mod copy_encode;
