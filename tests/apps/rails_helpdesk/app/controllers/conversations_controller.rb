class ConversationsController < ApplicationController
  before_action :authenticate!

  def index
    list = Conversation.where(initiator_id: current_user.id).or(Conversation.where(assigned_expert_id: current_user.id))
    render json: list.order(updated_at: :desc).map { |c| c.as_api_json(current_user) }
  end

  def show
    conversation = Conversation.find(params[:id])
    return render(json: { error: "Conversation not found" }, status: :not_found) unless conversation.visible_to?(current_user)

    render json: conversation.as_api_json(current_user)
  end

  def create
    conversation = Conversation.new(title: params[:title], initiator: current_user, status: "waiting")
    if conversation.save
      render json: conversation.as_api_json(current_user), status: :created
    else
      render json: { errors: conversation.errors.full_messages }, status: :unprocessable_entity
    end
  end
end
