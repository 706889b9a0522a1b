(module
 (type $0 (func (param i32) (result i32)))
 (type $1 (func))
 (type $2 (func (param i32)))
 (type $3 (func (result i32)))
 (import "env" "host_malloc" (func $fimport$0 (param i32) (result i32)))
 (import "env" "host_free" (func $fimport$1 (param i32)))
 (global $block (mut i32) (i32.const 0))
 (global $hostalloc$heap_base i32 (i32.const 1040))
 (global $hostalloc$abi i32 (i32.const 2))
 (global $hostalloc$align i32 (i32.const 16))
 (memory $mem 2)
 (data $0 (i32.const 1024) "\00\08\00\00\00\00\00\00")
 (export "block" (func $block))
 (export "release" (func $release))
 (export "memory" (memory $mem))
 (export "__heap_base" (global $hostalloc$heap_base))
 (export "__hostalloc_abi" (global $hostalloc$abi))
 (export "__hostalloc_align" (global $hostalloc$align))
 (export "__hostalloc_grow" (func $hostalloc$grow))
 (start $init)
 (func $init
  (global.set $block
   (call $fimport$0
    (i32.const 32)
   )
  )
  (i32.store
   (global.get $block)
   (i32.const 99)
  )
 )
 (func $block (result i32)
  (global.get $block)
 )
 (func $release
  (call $fimport$1
   (global.get $block)
  )
 )
 (func $hostalloc$grow (param $0 i32) (result i32)
  (memory.grow
   (local.get $0)
  )
 )
 ;; custom section "hostalloc", size 84, contents: "{\"abi\":2,\"align\":16,\"heapBase\":\"estimated\",\"heapBaseValue\":1040,\"dataEnd\":\"unknown\"}"
)
