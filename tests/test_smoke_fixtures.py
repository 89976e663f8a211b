from redis.asyncio import Redis


async def test_both_backends_answer(client: Redis) -> None:
    assert await client.ping()
