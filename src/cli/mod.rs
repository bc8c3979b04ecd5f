pub(crate) mod broker;
