from pressroom.search.backends import index_articles


def index_demo_articles() -> str:
    return f"Indexed {index_articles()} articles for search."
