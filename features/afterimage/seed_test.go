package afterimage

import "hash/maphash"

func maphashSeed() maphash.Seed { return maphash.MakeSeed() }
